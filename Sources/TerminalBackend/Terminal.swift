import CNcurses
import Foundation
public import TerminalCanvas

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What the terminal reported.
public enum TerminalInput: Equatable, Sendable {
    case key(Key)
    /// The window changed size.
    case resize
}

/// The only code that talks to ncurses: sets the terminal up, draws canvases (only the cells that
/// changed), reads keys with a timeout, and restores the terminal.
///
/// Use it from one thread only (the dashboard's loop); it is not `Sendable`.
public final class Terminal {
    private var previous: Canvas?
    private var stopped = false
    private let colors: Bool
    /// Whether the terminal can show Unicode box and block characters.
    public let unicode: Bool

    /// Takes over the terminal: raw mode (Ctrl-C arrives as a key), no echo, hidden cursor, keypad keys.
    public init(forceASCII: Bool = false) {
        // A parent may have left SIGWINCH ignored or blocked (threads of Dispatch block every signal);
        // ncurses then never learns of a resize. Restore the default and unblock it on this thread, the one
        // that reads keys, before ncurses installs its handler.
        signal(SIGWINCH, SIG_DFL)
        var resize = sigset_t()
        sigemptyset(&resize)
        sigaddset(&resize, SIGWINCH)
        pthread_sigmask(SIG_UNBLOCK, &resize, nil)
        poolscope_set_locale()
        let environment = ProcessInfo.processInfo.environment
        let locale = environment["LC_ALL"] ?? environment["LC_CTYPE"] ?? environment["LANG"] ?? ""
        unicode = !forceASCII && (locale.uppercased().contains("UTF-8") || locale.uppercased().contains("UTF8"))
        initscr()
        raw()
        noecho()
        keypad(poolscope_stdscr(), true)
        curs_set(0)
        set_escdelay(25)
        if has_colors() {
            start_color()
            use_default_colors()
            for color in Color.allCases { init_pair(Int16(color.rawValue) + 1, Int16(color.rawValue), -1) }
            colors = true
        } else {
            colors = false
        }
    }

    deinit { stop() }

    /// The terminal's size in cells.
    public var size: (width: Int, height: Int) {
        (Int(getmaxx(poolscope_stdscr())), Int(getmaxy(poolscope_stdscr())))
    }

    /// Copies `canvas` to the screen, writing only the runs of cells that differ from the last draw.
    public func draw(_ canvas: Canvas) {
        let window = poolscope_stdscr()
        if previous.map({ $0.width != canvas.width || $0.height != canvas.height }) ?? true { werase(window) }
        for run in canvas.changes(since: previous) {
            wattrset(window, Int32(bitPattern: attributes(run.style)))
            _ = mvwaddstr(window, Int32(run.y), Int32(run.x), run.text)
        }
        wattrset(window, 0)
        wrefresh(window)
        previous = canvas
    }

    /// Forgets what is on screen, so the next draw repaints everything (after a resize).
    public func invalidate() {
        previous = nil
        clearok(poolscope_stdscr(), true)
    }

    private func attributes(_ style: Style) -> UInt32 {
        var result: UInt32 = 0
        if style.bold { result |= UInt32(poolscope_a_bold()) }
        if style.reverse { result |= UInt32(poolscope_a_reverse()) }
        if style.dim { result |= UInt32(poolscope_a_dim()) }
        if colors, let color = style.foreground { result |= UInt32(poolscope_color_pair(Int32(color.rawValue) + 1)) }
        return result
    }

    /// Waits up to `milliseconds` for input.
    public func read(timeoutMilliseconds milliseconds: Int) -> TerminalInput? {
        wtimeout(poolscope_stdscr(), Int32(max(milliseconds, 0)))
        let code = wgetch(poolscope_stdscr())
        switch code {
        case ERR: return nil
        case poolscope_key_resize(): return .resize
        case poolscope_key_left(): return .key(.left)
        case poolscope_key_right(): return .key(.right)
        case poolscope_key_up(): return .key(.up)
        case poolscope_key_down(): return .key(.down)
        case poolscope_key_enter(), 10, 13: return .key(.enter)
        case 3: return .key(.interrupt)
        case 9: return .key(.tab)
        case 27: return .key(.escape)
        case 32...126:
            guard let scalar = Unicode.Scalar(UInt32(code)) else { return nil }
            return .key(.character(Character(scalar)))
        default: return nil
        }
    }

    /// Gives the terminal back as it was. Safe to call more than once.
    public func stop() {
        guard !stopped else { return }
        stopped = true
        curs_set(1)
        endwin()
    }
}
