using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Jobs.Dataflow.Tests;

/// <summary>The README explains the repository: its quick start compiles and runs as the sample, and its layout table is the tree.</summary>
[TestClass]
public sealed class ReadmeTests
{
    // What `dotnet new console` gives a user who pastes the quick start into Program.cs.
    private const string ImplicitUsings = """
        global using System;
        global using System.Collections.Generic;
        global using System.IO;
        global using System.Linq;
        global using System.Net.Http;
        global using System.Threading;
        global using System.Threading.Tasks;
        """;

    [TestMethod]
    public void QuickStart_ReadmeCode_IsTheSamplesCodeWordForWord()
    {
        string root = FindRepositoryRoot();
        string program = File.ReadAllText(Path.Combine(root, "samples", "QuickStart", "Program.cs"));

        string region = Between(program, "// <quickstart>\n", "// </quickstart>").TrimEnd('\n');

        StringAssert.Contains(QuickStartCode(root), region, "README.md's quick start must hold the sample's quickstart region unchanged.");
    }

    [TestMethod]
    public void QuickStart_ReadmeCode_CompilesAsItStands() => AssertCompiles(QuickStartCode(FindRepositoryRoot()));

    [TestMethod]
    public void TestKitPackageReadme_Example_CompilesAsItStands()
    {
        string readme = File.ReadAllText(Path.Combine(FindRepositoryRoot(), "Jobs.Dataflow.Testing", "PACKAGE.md"));

        AssertCompiles(Between(readme, "```csharp\n", "```"));
    }

    [TestMethod]
    public void PackageReadme_Example_CompilesAsItStands()
    {
        // What NuGet readers see: the README packed with the library.
        string readme = File.ReadAllText(Path.Combine(FindRepositoryRoot(), "Jobs.Dataflow", "PACKAGE.md"));

        AssertCompiles(Between(readme, "```csharp\n", "```"));
    }

    [TestMethod]
    public void Layout_ReadmeTable_NamesEveryLibraryFolderAndOnlyFoldersThatExist()
    {
        string root = FindRepositoryRoot();
        string readme = File.ReadAllText(Path.Combine(root, "README.md"));
        int layout = readme.IndexOf("## Repository layout", StringComparison.Ordinal);
        Assert.IsGreaterThanOrEqualTo(0, layout, "README.md has no Repository layout section.");
        string[] named = [.. Regex.Matches(readme[layout..], @"^\| `([^`]+/)` \|", RegexOptions.Multiline).Select(m => m.Groups[1].Value)];

        foreach (string folder in named)
        {
            Assert.IsTrue(Directory.Exists(Path.Combine(root, folder)), $"README names {folder}, which does not exist.");
        }

        foreach (string folder in Directory.GetDirectories(Path.Combine(root, "Jobs.Dataflow")).Select(d => Path.GetFileName(d)!))
        {
            if (folder is not ("bin" or "obj"))
            {
                CollectionAssert.Contains(named, $"Jobs.Dataflow/{folder}/", $"README's layout table does not name Jobs.Dataflow/{folder}/.");
            }
        }
    }

    /// <summary>Compiles a program as a user would: C# latest, top-level statements, the SDK's implicit usings, and the packages the docs name.</summary>
    private static void AssertCompiles(string program)
    {
        SyntaxTree[] trees =
        [
            CSharpSyntaxTree.ParseText(program, new CSharpParseOptions(LanguageVersion.Latest), "Program.cs"),
            CSharpSyntaxTree.ParseText(ImplicitUsings, new CSharpParseOptions(LanguageVersion.Latest), "GlobalUsings.cs"),
        ];
        CSharpCompilation compilation = CSharpCompilation.Create(
            "Example",
            trees,
            References(),
            new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable));

        string[] errors = [.. compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.ToString())];
        Assert.IsEmpty(errors, string.Join(Environment.NewLine, errors));
    }

    private static string QuickStartCode(string root)
    {
        string readme = File.ReadAllText(Path.Combine(root, "README.md"));
        string quickStart = Between(readme, "## Quick start", "\n## ");
        return Between(quickStart, "```csharp\n", "```");
    }

    /// <summary>The runtime's assemblies and this test's dependencies: the library, and Microsoft.Extensions.Logging with its console provider.</summary>
    private static IEnumerable<MetadataReference> References()
    {
        string platform = (string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!;
        return platform.Split(Path.PathSeparator).Select(path => MetadataReference.CreateFromFile(path));
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
