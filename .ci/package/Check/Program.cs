// Checks a packed package of the repository (the library, or the test kit) as NuGet.org and a user's IDE will see it.
// Usage: dotnet run --project .ci/package/Check -- PACKAGE.nupkg SYMBOLS.snupkg REPOSITORY-ROOT
using System.IO.Compression;
using System.Text;
using System.Xml.Linq;

if (args.Length != 3)
{
    Console.Error.WriteLine("usage: Check PACKAGE.nupkg SYMBOLS.snupkg REPOSITORY-ROOT");
    return 2;
}

// What each package may depend on, and a public type its XML docs must describe.
var expected = new Dictionary<string, (string[] Dependencies, string DocumentedType)>(StringComparer.Ordinal)
{
    ["Jobs.Dataflow"] = (
        [
            // Cronos parses the cron schedules of timer jobs; the rest are abstractions.
            "Cronos",
            "Microsoft.Extensions.Diagnostics",
            "Microsoft.Extensions.Diagnostics.HealthChecks",
            "Microsoft.Extensions.Hosting.Abstractions",
            "Microsoft.Extensions.Logging.Abstractions",
        ],
        "Jobs.Dataflow.JobRegistry"),
    ["Jobs.Dataflow.Testing"] = (
        [
            "Jobs.Dataflow",
            "Microsoft.Extensions.Diagnostics.Testing",
            "Microsoft.Extensions.TimeProvider.Testing",
        ],
        "Jobs.Dataflow.Testing.JobTestKit"),
};

var failures = new List<string>();
void Check(bool ok, string what)
{
    Console.WriteLine($"  {(ok ? "ok  " : "FAIL")} {what}");
    if (!ok)
    {
        failures.Add(what);
    }
}

using ZipArchive package = ZipFile.OpenRead(args[0]);
using ZipArchive symbols = ZipFile.OpenRead(args[1]);
string[] files = [.. package.Entries.Select(e => e.FullName)];
Console.WriteLine($"{Path.GetFileName(args[0])}:");

ZipArchiveEntry nuspecEntry = package.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal));
XDocument nuspec;
using (Stream stream = nuspecEntry.Open())
{
    nuspec = XDocument.Load(stream);
}

XNamespace ns = nuspec.Root!.Name.Namespace;
XElement metadata = nuspec.Root.Element(ns + "metadata")!;
string Meta(string name) => metadata.Element(ns + name)?.Value ?? string.Empty;

string id = Meta("id");
Check(expected.ContainsKey(id), $"id is one of this repository's packages ({id})");
(string[] expectedDependencies, string documentedType) = expected.GetValueOrDefault(id, ([], "?"));
Check(Meta("version").StartsWith("0.1.0", StringComparison.Ordinal), $"version is 0.1.0 ({Meta("version")})");
Check(Meta("license") == "Apache-2.0" && metadata.Element(ns + "license")?.Attribute("type")?.Value == "expression", "license expression Apache-2.0");
Check(files.Contains("LICENSE"), "LICENSE file in the package");
Check(Meta("readme") is { Length: > 0 } readme && files.Contains(readme), $"readme '{Meta("readme")}' declared and present");
Check(files.Contains("CHANGELOG.md"), "CHANGELOG.md in the package");
foreach (string field in new[] { "description", "authors", "copyright", "tags", "releaseNotes" })
{
    Check(Meta(field).Length > 0, $"{field} set");
}

Check(files.Contains($"lib/net10.0/{id}.dll"), $"lib/net10.0/{id}.dll");
ZipArchiveEntry? docs = package.GetEntry($"lib/net10.0/{id}.xml");
string docsText = docs is null ? string.Empty : new StreamReader(docs.Open()).ReadToEnd();
Check(docsText.Contains($"<member name=\"T:{documentedType}\">", StringComparison.Ordinal), "XML docs present, with the public types");
Check(!files.Any(f => f.StartsWith("lib/", StringComparison.Ordinal) && !f.StartsWith("lib/net10.0/", StringComparison.Ordinal)), "only net10.0 in lib/");

string[] dependencies = [.. metadata.Descendants(ns + "dependency").Select(d => d.Attribute("id")!.Value).Order(StringComparer.Ordinal)];
Check(dependencies.SequenceEqual(expectedDependencies), $"dependencies are the expected ones only: {string.Join(", ", dependencies)}");
if (id == "Jobs.Dataflow.Testing")
{
    // Shipped version for version with the library it reads.
    string? libraryVersion = metadata.Descendants(ns + "dependency").FirstOrDefault(d => d.Attribute("id")!.Value == "Jobs.Dataflow")?.Attribute("version")?.Value;
    Check(libraryVersion is not null && libraryVersion.Contains(Meta("version"), StringComparison.Ordinal), $"depends on Jobs.Dataflow of its own version ({libraryVersion})");
}

Check(symbols.GetEntry($"lib/net10.0/{id}.pdb") is not null, $"{Path.GetFileName(args[1])} holds lib/net10.0/{id}.pdb");

// Built with ContinuousIntegrationBuild: the DLL names its PDB by a mapped path, not the build machine's.
byte[] dll;
using (var buffer = new MemoryStream())
{
    using Stream stream = package.GetEntry($"lib/net10.0/{id}.dll")!.Open();
    stream.CopyTo(buffer);
    dll = buffer.ToArray();
}

string root = Path.GetFullPath(args[2]).TrimEnd(Path.DirectorySeparatorChar);
Check(!Contains(dll, Encoding.UTF8.GetBytes(root)), $"the DLL does not embed the build path ({root})");

Console.WriteLine(failures.Count == 0 ? "package check: ok" : $"package check: {failures.Count} failed");
return failures.Count == 0 ? 0 : 1;

static bool Contains(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle) >= 0;
