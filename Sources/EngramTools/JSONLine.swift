import Foundation

/// Machine output: one JSON object per line, through `Codable`.
///
/// Keys are sorted (so a line is the same from run to run) and slashes are
/// not escaped (paths stay readable). Numbers that are measurements go
/// through ``Rounded`` so a line does not carry 17 digits of noise.
package enum JSONLine {
    package static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        } catch {
            // Only a non-finite Double can fail, and every measurement goes through Rounded, which writes null.
            return #"{"error":"unencodable output"}"#
        }
    }
}

/// A measured number written with at most `decimals` decimals; a
/// non-finite one (JSON has no NaN) is written as null.
package struct Rounded: Encodable, Sendable, Equatable {
    package var value: Double
    package var decimals: Int

    package init(_ value: Double, _ decimals: Int) {
        self.value = value
        self.decimals = decimals
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        guard value.isFinite else { return try container.encodeNil() }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let rounded = (value * scale).rounded() / scale
        if rounded == rounded.rounded(), abs(rounded) < 1e15 {
            try container.encode(Int64(rounded))
        } else {
            try container.encode(rounded)
        }
    }
}
