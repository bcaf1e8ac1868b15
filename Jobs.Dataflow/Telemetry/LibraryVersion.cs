using System.Reflection;

namespace Jobs.Dataflow;

/// <summary>The library's version, as its meter and activity source report it to a collector.</summary>
internal static class LibraryVersion
{
    /// <summary>Gets the assembly's informational version (the package version, with the commit when built from source control).</summary>
    public static string Informational { get; } =

        // Stryker disable all: the build always stamps an informational version; the fallbacks are for a stripped assembly.
        typeof(LibraryVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(LibraryVersion).Assembly.GetName().Version?.ToString()
        ?? "0.0.0";

    // Stryker restore all
}
