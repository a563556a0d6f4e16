#if canImport(Glibc)
import Glibc
#endif

/// ISO 8601 times as memory reads and writes them: `2026-12-03T02:30:00Z`,
/// with optional fractional seconds (up to microseconds) and a `Z` or
/// `±HH:MM` offset, or a date alone (`2026-12-03`, midnight UTC). Written
/// in UTC with `Z`, fractions only when not whole seconds.
public enum ISO8601 {
    public static func parse(_ text: String) -> MemoryTime? {
        let b = Array(text.utf8)
        var at = 0
        func digits(_ n: Int) -> Int? {
            guard at + n <= b.count else { return nil }
            var v = 0
            for i in at..<(at + n) {
                guard b[i] >= 0x30 && b[i] <= 0x39 else { return nil }
                v = v * 10 + Int(b[i] - 0x30)
            }
            at += n
            return v
        }
        func expect(_ c: UInt8) -> Bool {
            guard at < b.count, b[at] == c else { return false }
            at += 1
            return true
        }
        guard let year = digits(4), expect(0x2D), let month = digits(2), expect(0x2D), let day = digits(2),
              (1...12).contains(month), (1...31).contains(day) else { return nil }
        var hour = 0, minute = 0, second = 0, micros = 0, offset = 0
        if at < b.count {
            guard expect(0x54) || expect(0x74) || expect(0x20), let h = digits(2), expect(0x3A), let m = digits(2) else { return nil }
            hour = h
            minute = m
            if expect(0x3A) {
                guard let s = digits(2) else { return nil }
                second = s
                if expect(0x2E) || expect(0x2C) {
                    var scale = 100_000, any = false
                    while at < b.count, b[at] >= 0x30, b[at] <= 0x39 {
                        micros += Int(b[at] - 0x30) * scale
                        scale /= 10
                        at += 1
                        any = true
                    }
                    guard any else { return nil }
                }
            }
            if expect(0x5A) || expect(0x7A) {
                offset = 0
            } else if at < b.count, b[at] == 0x2B || b[at] == 0x2D {
                let sign = b[at] == 0x2D ? -1 : 1
                at += 1
                guard let oh = digits(2) else { return nil }
                _ = expect(0x3A)
                guard let om = digits(2), oh <= 23, om <= 59 else { return nil }
                offset = sign * (oh * 3600 + om * 60)
            } else {
                return nil  // a time needs its zone: local time would depend on the machine
            }
            guard hour <= 23, minute <= 59, second <= 60 else { return nil }
        }
        guard at == b.count else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let epoch = timegm(&parts)
        // timegm normalises out-of-range days (Feb 30 → Mar 2): refuse them.
        guard parts.tm_mday == Int32(day), parts.tm_mon == Int32(month - 1) else { return nil }
        return MemoryTime(microseconds: (Int64(epoch) - Int64(offset)) * 1_000_000 + Int64(micros))
    }

    public static func format(_ time: MemoryTime) -> String {
        var seconds = time_t(time.microseconds / 1_000_000)
        var micros = time.microseconds % 1_000_000
        if micros < 0 {
            micros += 1_000_000
            seconds -= 1
        }
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ v: Int32, _ n: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: Swift.max(0, n - s.count)) + s
        }
        var out = "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))"
        if micros != 0 { out += "." + pad(Int32(micros), 6) }
        return out + "Z"
    }
}

extension ISO8601 {
    /// A duration in seconds: an ISO 8601 duration of weeks, days, hours, minutes and seconds (`P7D`,
    /// `PT12H`, `P1DT6H30M`, `P2W`), a number with a unit (`45s`, `30m`, `12h`, `7d`, `2w`), or a plain
    /// number of seconds. Nil for anything else, and for zero, negative or non-finite lengths.
    public static func parseDuration(_ text: String) -> Double? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800]
        var total = 0.0
        if text.hasPrefix("P") {
            var inTime = false, number = "", any = false, timeParts = 0
            for c in text.dropFirst() {
                if c == "T" {
                    guard number.isEmpty, !inTime else { return nil }
                    inTime = true
                } else if c.isNumber || c == "." {
                    number.append(c)
                } else {
                    guard let value = Double(number) else { return nil }
                    let scale: Double
                    switch (c, inTime) {
                    case ("W", false): scale = 604_800
                    case ("D", false): scale = 86_400
                    case ("H", true): scale = 3600
                    case ("M", true): scale = 60
                    case ("S", true): scale = 1
                    default: return nil
                    }
                    total += value * scale
                    number = ""
                    any = true
                    if inTime { timeParts += 1 }
                }
            }
            guard any, number.isEmpty, !inTime || timeParts > 0 else { return nil }
        } else if let last = text.last, let scale = units[last], let value = Double(text.dropLast()) {
            total = value * scale
        } else if let value = Double(text) {
            total = value
        } else {
            return nil
        }
        return total.isFinite && total > 0 ? total : nil
    }
}
