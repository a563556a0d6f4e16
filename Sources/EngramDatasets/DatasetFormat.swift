/// The on-disk layouts of benchmark datasets (Docs/FORMATS.md).
///
/// All are little-endian with 4-byte values and carry no checksum (they
/// are interchange formats, checked for consistency of size and headers):
///
/// | format  | layout                                                          |
/// |---------|-----------------------------------------------------------------|
/// | `.fvecs`| every row: `int32 d`, then `d` × `float32` (TEXMEX)            |
/// | `.ivecs`| every row: `int32 d`, then `d` × `int32` (TEXMEX)              |
/// | `.fbin` | `int32 n`, `int32 d`, then `n·d` × `float32` (BigANN)          |
/// | `.ibin` | `int32 n`, `int32 d`, then `n·d` × `int32` (BigANN)            |
public enum DatasetFormat: String, Sendable, CaseIterable {
    case fvecs, ivecs, fbin, ibin

    /// The format named by a path's extension, if any.
    public init?(path: String) {
        guard let dot = path.lastIndex(of: "."), !path[dot...].contains("/") else { return nil }
        self.init(rawValue: path[path.index(after: dot)...].lowercased())
    }

    /// Whether each row carries its own dimension header (TEXMEX).
    public var hasRowHeaders: Bool { self == .fvecs || self == .ivecs }

    /// Whether the values are `float32` (else `int32`).
    public var holdsFloats: Bool { self == .fvecs || self == .fbin }
}
