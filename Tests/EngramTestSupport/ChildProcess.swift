#if canImport(Glibc)
import Glibc
#endif

/// A child process with its standard output on a pipe, for crash tests.
public final class ChildProcess {
    public let pid: pid_t
    private let output: Int32
    private var buffer = [UInt8]()

    /// Starts `path` with `arguments` (standard error inherited).
    public init?(_ path: String, _ arguments: [String]) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return nil }
        // Close-on-exec: a child spawned later must not inherit this pipe and keep it open (dup2 clears the flag on fd 1).
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        var argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child = pid_t()
        let status = posix_spawn(&child, path, &actions, nil, &argv, environ)
        posix_spawn_file_actions_destroy(&actions)
        close(fds[1])
        guard status == 0 else { close(fds[0]); return nil }
        pid = child
        output = fds[0]
    }

    deinit { close(output) }

    /// Complete lines read within `milliseconds` (the last partial line is kept back).
    public func readLines(for milliseconds: Int) -> [String] {
        var lines = [String]()
        let deadline = clockMilliseconds() + milliseconds
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let left = deadline - clockMilliseconds()
            if left <= 0 { break }
            var p = pollfd(fd: output, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, Int32(left)) > 0 else { break }
            let n = read(output, &chunk, chunk.count)
            if n <= 0 { break }
            buffer += chunk[0..<n]
            while let newline = buffer.firstIndex(of: 10) {
                lines.append(String(decoding: buffer[..<newline], as: UTF8.self))
                buffer.removeSubrange(...newline)
            }
        }
        return lines
    }

    /// Kills the child with `signal` and reaps it.
    public func kill(_ signal: Int32 = SIGKILL) {
        _ = Glibc.kill(pid, signal)
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
    }

    private func clockMilliseconds() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
    }

    /// What a finished command printed, and how it ended.
    public struct Finished: Sendable {
        /// The exit status, or 128 + the signal that ended it.
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs `path` with `arguments` to its end (standard input empty),
    /// its standard output and error going to files read afterwards.
    public static func run(_ path: String, _ arguments: [String], environment overrides: [String: String] = [:]) -> Finished? {
        let scratch = "/tmp/engram-child-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let out = scratch + ".out", err = scratch + ".err"
        defer { unlink(out); unlink(err) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        var argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var inherited = [String]()
        var at = environ
        while let entry = at.pointee {
            let text = String(cString: entry)
            if let name = text.split(separator: "=", maxSplits: 1).first, overrides[String(name)] == nil { inherited.append(text) }
            at += 1
        }
        var envp: [UnsafeMutablePointer<CChar>?] = (inherited + overrides.map { "\($0.key)=\($0.value)" }).map { strdup($0) } + [nil]
        defer { envp.forEach { free($0) } }
        var child = pid_t()
        guard posix_spawn(&child, path, &actions, nil, &argv, &envp) == 0 else { return nil }
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 && errno == EINTR {}
        let signal = status & 0x7f
        let code = signal == 0 ? (status >> 8) & 0xff : 128 + signal
        func text(_ file: String) -> String {
            guard let f = fopen(file, "rb") else { return "" }
            defer { fclose(f) }
            var bytes = [UInt8](), chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = fread(&chunk, 1, chunk.count, f)
                bytes += chunk[0..<n]
                if n < chunk.count { break }
            }
            return String(decoding: bytes, as: UTF8.self)
        }
        return Finished(status: code, stdout: text(out), stderr: text(err))
    }

    /// The path of an executable built beside the running test bundle.
    public static func sibling(_ name: String) -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let me = n > 0 ? String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        let dir = me.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        return "\(dir)/\(name)"
    }
}
