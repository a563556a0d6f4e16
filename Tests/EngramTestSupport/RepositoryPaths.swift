/// Paths inside this repository, found from this source file's location.
public enum RepositoryPaths {
    /// The repository root (the folder holding Package.swift).
    public static var root: String {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)  // Tests/EngramTestSupport/RepositoryPaths.swift
        return parts.joined(separator: "/")
    }

    /// The committed fixture dataset folder.
    public static var fixture: String { "\(root)/Fixtures/fixture-64-5k" }
}
