namespace Jobs.Dataflow.Tests;

[TestClass]
public sealed class ReadmeTests
{
    [TestMethod]
    public void QuickStart_ReadmeCode_IsTheSamplesCodeWordForWord()
    {
        string root = FindRepositoryRoot();
        string program = File.ReadAllText(Path.Combine(root, "samples", "QuickStart", "Program.cs"));
        string readme = File.ReadAllText(Path.Combine(root, "README.md"));

        string region = Between(program, "// <quickstart>\n", "// </quickstart>").TrimEnd('\n');
        string quickStart = Between(readme, "## Quick start", "\n## ");
        string code = Between(quickStart, "```csharp\n", "```");

        StringAssert.Contains(code, region, "README.md's quick start must hold the sample's quickstart region unchanged.");
    }

    private static string Between(string text, string start, string end)
    {
        int from = text.IndexOf(start, StringComparison.Ordinal);
        Assert.IsGreaterThanOrEqualTo(0, from, $"'{start.Trim()}' not found");
        from += start.Length;
        int to = text.IndexOf(end, from, StringComparison.Ordinal);
        Assert.IsGreaterThanOrEqualTo(0, to, $"'{end.Trim()}' not found");
        return text[from..to].Replace("\r\n", "\n", StringComparison.Ordinal);
    }

    private static string FindRepositoryRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Jobs.Dataflow.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("The repository root (with Jobs.Dataflow.sln) was not found above " + AppContext.BaseDirectory);
    }
}
