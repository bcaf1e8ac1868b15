using System.Security.Cryptography;
using System.Text;

namespace Jobs.Dataflow.Tests;

[TestClass]
public sealed class JobNameTests
{
    public static IEnumerable<object[]> Examples =>
    [
        ["valid_name-123ABC", "valid_name-123ABC"],
        ["X$%^&Y", "XY-4af3ba2ac8"],
        ["smile😀", "smile-aacf34c444"],
        [new string('a', 200), new string('a', 90) + "-c2a908d98f"],
    ];

    [TestMethod]
    [DynamicData(nameof(Examples))]
    public void Name_ApiExamples_SanitizedLikeTheGoOriginal(string name, string expected)
    {
        Job job = Job.OneShot(name, (_, _) => Task.CompletedTask);

        Assert.AreEqual(expected, job.Name);
    }

    [TestMethod]
    public void Name_WithCharactersDropped_KeepsEveryLetterDigitUnderscoreAndHyphen()
    {
        // The neighbours of each allowed range are dropped; the ends of each range are kept.
        const string name = "`a{z@A[Z/0:9_-";
        string hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(name)))[..10];

        Assert.AreEqual("azAZ09_--" + hash, Job.OneShot(name, (_, _) => Task.CompletedTask).Name);
    }

    [TestMethod]
    public void Name_ExactlyOneHundredAllowedBytes_StaysAsIs()
    {
        string name = new('b', 100);

        Assert.AreEqual(name, Job.OneShot(name, (_, _) => Task.CompletedTask).Name);
    }

    [TestMethod]
    public void Name_LongerThanOneHundredBytes_IsCutAndHashed()
    {
        Job job = Job.OneShot(new string('b', 101), (_, _) => Task.CompletedTask);

        Assert.AreEqual(101, job.Name.Length);
        StringAssert.StartsWith(job.Name, new string('b', 90) + "-");
    }

    [TestMethod]
    public void OneShot_NullName_ThrowsArgumentNullException()
    {
        var error = Assert.ThrowsExactly<ArgumentNullException>(() => Job.OneShot(null!, (_, _) => Task.CompletedTask));

        Assert.AreEqual("name", error.ParamName);
    }

    [TestMethod]
    public void OneShot_EmptyName_ThrowsArgumentException()
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() => Job.OneShot(string.Empty, (_, _) => Task.CompletedTask));

        Assert.AreEqual("name", error.ParamName);
    }

    [TestMethod]
    public void HealthScopeName_JobsMadeOneAfterAnother_EachHasItsKindsPrefixAndItsName()
    {
        Job a = Job.OneShot("a", (_, _) => Task.CompletedTask);
        Job timerA = Job.Timer("a", _ => Task.CompletedTask, TimeSpan.FromSeconds(1));
        Job b = Job.OneShot("b", (_, _) => Task.CompletedTask);
        Job againA = Job.OneShot("a", (_, _) => Task.CompletedTask);
        Job alsoA = Job.OneShot("a", (_, _) => Task.CompletedTask);

        Assert.AreEqual("job-a", a.HealthScopeName);
        Assert.AreEqual("timer-job-a", timerA.HealthScopeName);
        Assert.AreEqual("job-b", b.HealthScopeName);
        Assert.AreEqual("job-a", againA.HealthScopeName);
        Assert.AreSame(againA.HealthScopeName, alsoA.HealthScopeName, "Jobs made in a row under one name share one scope name.");
    }
}
