extension String {
    /// The string `bytes` encode, or nil if they are not valid UTF-8.
    ///
    /// Decoding repairs invalid input (with U+FFFD) and always produces valid
    /// UTF-8, so the input was valid exactly when the result's bytes equal
    /// it. Far faster than the generic `String(validating:as:)` on short
    /// strings (ids, metadata keys), which replay and snapshot loading
    /// decode by the million.
    package init?(validUTF8 bytes: UnsafeRawBufferPointer) {
        let s = String(decoding: bytes, as: UTF8.self)
        guard s.utf8.elementsEqual(bytes) else { return nil }
        self = s
    }
}
