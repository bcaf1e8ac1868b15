using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging;
using Moq;

namespace Jobs.Dataflow.Tests.Groups;

/// <summary>
/// The group's logger: entries go inside the group's labels scope, a level the provider turned
/// off costs nothing, and a provider that throws never reaches the job; its failure goes to
/// <see cref="Trace"/>.
/// </summary>
[TestClass]
public sealed class GroupLoggerTests
{
    private static readonly EventId Event = new(7, "Something");

    [TestMethod]
    public void Log_LevelTurnedOff_WritesNothingAndBeginsNoScope()
    {
        var inner = new Mock<ILogger>(MockBehavior.Strict);
        inner.Setup(l => l.IsEnabled(LogLevel.Debug)).Returns(false);
        var logger = new GroupLogger(inner.Object, Labels());

        logger.Log(LogLevel.Debug, Event, "state", null, (s, _) => s);

        inner.Verify(l => l.IsEnabled(LogLevel.Debug), Times.Once);
        inner.VerifyNoOtherCalls();
    }

    [TestMethod]
    public void Log_WithLabels_WritesTheEntryInsideTheLabelsScope()
    {
        var calls = new List<string>();
        var scope = new Mock<IDisposable>();
        scope.Setup(s => s.Dispose()).Callback(() => calls.Add("end scope"));
        var inner = new Mock<ILogger>();
        inner.Setup(l => l.IsEnabled(LogLevel.Warning)).Returns(true);
        LabelsScope labels = Labels();
        inner.Setup(l => l.BeginScope(labels)).Callback(() => calls.Add("begin scope")).Returns(scope.Object);
        inner.Setup(l => l.Log(LogLevel.Warning, Event, It.IsAny<It.IsAnyType>(), null, It.IsAny<Func<It.IsAnyType, Exception?, string>>()))
            .Callback(() => calls.Add("log"));
        var logger = new GroupLogger(inner.Object, labels);

        logger.Log(LogLevel.Warning, Event, "state", null, (s, _) => s);

        CollectionAssert.AreEqual(new[] { "begin scope", "log", "end scope" }, calls);
    }

    [TestMethod]
    public void Log_WithoutLabels_WritesTheEntryWithoutAScope()
    {
        var inner = new Mock<ILogger>(MockBehavior.Strict);
        inner.Setup(l => l.IsEnabled(LogLevel.Information)).Returns(true);
        inner.Setup(l => l.Log(LogLevel.Information, Event, It.IsAny<It.IsAnyType>(), null, It.IsAny<Func<It.IsAnyType, Exception?, string>>()));
        var logger = new GroupLogger(inner.Object, scope: null);

        logger.Log(LogLevel.Information, Event, "state", null, (s, _) => s);

        inner.Verify(l => l.Log(LogLevel.Information, Event, It.IsAny<It.IsAnyType>(), null, It.IsAny<Func<It.IsAnyType, Exception?, string>>()), Times.Once);
    }

    [TestMethod]
    public void Log_ProviderThrows_DoesNotThrowAndTracesTheEventAndTheError()
    {
        string marker = Guid.NewGuid().ToString("N");
        var inner = new Mock<ILogger>();
        inner.Setup(l => l.IsEnabled(It.IsAny<LogLevel>())).Returns(true);
        inner.Setup(l => l.Log(It.IsAny<LogLevel>(), It.IsAny<EventId>(), It.IsAny<It.IsAnyType>(), It.IsAny<Exception?>(), It.IsAny<Func<It.IsAnyType, Exception?, string>>()))
            .Throws(new InvalidOperationException(marker));
        var logger = new GroupLogger(inner.Object, scope: null);
        using var trace = new TraceCapture();

        logger.Log(LogLevel.Error, Event, "state", null, (s, _) => s);

        string line = trace.LineWith(marker);
        StringAssert.Contains(line, "failed to write event 7");
    }

    [TestMethod]
    public void Log_ScopeOfTheLabelsThrows_DoesNotThrowAndTraces()
    {
        string marker = Guid.NewGuid().ToString("N");
        var inner = new Mock<ILogger>();
        inner.Setup(l => l.IsEnabled(It.IsAny<LogLevel>())).Returns(true);
        inner.Setup(l => l.BeginScope(It.IsAny<LabelsScope>())).Throws(new InvalidOperationException(marker));
        var logger = new GroupLogger(inner.Object, Labels());
        using var trace = new TraceCapture();

        logger.Log(LogLevel.Error, Event, "state", null, (s, _) => s);

        StringAssert.Contains(trace.LineWith(marker), "failed to write event 7");
    }

    [TestMethod]
    public void IsEnabled_ProviderThrows_ReportsTheLevelOffAndTraces()
    {
        string marker = Guid.NewGuid().ToString("N");
        var inner = new Mock<ILogger>();
        inner.Setup(l => l.IsEnabled(It.IsAny<LogLevel>())).Throws(new InvalidOperationException(marker));
        var logger = new GroupLogger(inner.Object, scope: null);
        using var trace = new TraceCapture();

        bool enabled = logger.IsEnabled(LogLevel.Critical);

        Assert.IsFalse(enabled, "A level the provider cannot answer for is treated as off, so nothing builds an entry for it.");
        StringAssert.Contains(trace.LineWith(marker), "logging provider failed");
    }

    [TestMethod]
    public void IsEnabled_Provider_AnswersForTheLevel()
    {
        var inner = new Mock<ILogger>();
        inner.Setup(l => l.IsEnabled(LogLevel.Warning)).Returns(true);
        var logger = new GroupLogger(inner.Object, scope: null);

        Assert.IsTrue(logger.IsEnabled(LogLevel.Warning));
        Assert.IsFalse(logger.IsEnabled(LogLevel.Debug));
    }

    [TestMethod]
    public void BeginScope_Provider_ReturnsTheProvidersScope()
    {
        var scope = Mock.Of<IDisposable>();
        var inner = new Mock<ILogger>();
        inner.Setup(l => l.BeginScope("user scope")).Returns(scope);
        var logger = new GroupLogger(inner.Object, scope: null);

        Assert.AreSame(scope, logger.BeginScope("user scope"));
    }

    [TestMethod]
    public void BeginScope_ProviderThrows_ReturnsNoScopeAndTraces()
    {
        string marker = Guid.NewGuid().ToString("N");
        var inner = new Mock<ILogger>();
        inner.Setup(l => l.BeginScope(It.IsAny<string>())).Throws(new InvalidOperationException(marker));
        var logger = new GroupLogger(inner.Object, scope: null);
        using var trace = new TraceCapture();

        IDisposable? scope = logger.BeginScope("user scope");

        Assert.IsNull(scope);
        StringAssert.Contains(trace.LineWith(marker), "failed to begin a scope");
    }

    private static LabelsScope Labels() => new(new Dictionary<string, object?> { ["tenant"] = "acme" });

    /// <summary>Records what is traced while it is listening; tests find their own lines by a marker, as others may trace meanwhile.</summary>
    private sealed class TraceCapture : TraceListener
    {
        private readonly StringBuilder _text = new();

        public TraceCapture()
        {
            Trace.Listeners.Add(this);
        }

        public string LineWith(string marker)
        {
            lock (_text)
            {
                string? line = _text.ToString().Split('\n').FirstOrDefault(l => l.Contains(marker, StringComparison.Ordinal));
                Assert.IsNotNull(line, $"Nothing traced mentions {marker}.");
                return line;
            }
        }

        public override void Write(string? message)
        {
            lock (_text)
            {
                _text.Append(message);
            }
        }

        public override void WriteLine(string? message)
        {
            lock (_text)
            {
                _text.Append(message).Append('\n');
            }
        }

        protected override void Dispose(bool disposing)
        {
            Trace.Listeners.Remove(this);
            base.Dispose(disposing);
        }
    }
}
