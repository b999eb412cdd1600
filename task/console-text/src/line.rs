//! The console's line editor and command parser, shared by every board's console (QEMU's
//! CMSDK UART and the STM32H7's USART3) and tested here on the host with what a serial line
//! really delivers: garbage bytes, lines longer than the buffer, and receive errors.
//!
//! The editor echoes what it keeps and hands over a whole line at Enter. A line is never
//! run unless it arrived exactly as typed: a receive error (overrun, framing, noise, parity)
//! anywhere in it, or more characters than [`LINE_LEN`], makes Enter discard it with a
//! message instead of running a truncated or garbled command.

use core::fmt::Write;
use core::str::SplitWhitespace;

/// A terminal line: room for `serial` and a whole 64-byte packet of text.
pub const LINE_LEN: usize = 80;

/// The UART's receive errors so far, for the message that discards a damaged line.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct RxErrorCounts {
    pub overruns: u32,
    pub framing: u32,
    pub noise: u32,
    pub parity: u32,
}

/// What Enter produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entered<'a> {
    /// A line received intact, trimmed (possibly empty).
    Line(&'a str),
    /// Part of the line never arrived intact; it was discarded (the message is written).
    Damaged,
    /// The line was longer than [`LINE_LEN`]; it was discarded (the message is written).
    TooLong,
}

pub struct LineEditor {
    line: [u8; LINE_LEN],
    len: usize,
    /// Part of the line never arrived intact (a receive error): it is not run.
    damaged: bool,
    /// Characters were typed past [`LINE_LEN`]: the line is not run.
    overlong: bool,
}

impl Default for LineEditor {
    fn default() -> Self {
        Self::new()
    }
}

impl LineEditor {
    pub const fn new() -> Self {
        LineEditor {
            line: [0; LINE_LEN],
            len: 0,
            damaged: false,
            overlong: false,
        }
    }

    /// A byte of the current line was lost or received with an error: the line will be
    /// discarded at Enter, with `counts` in the message (written once per line), rather
    /// than run as something the user did not type.
    pub fn on_damaged(&mut self, out: &mut impl Write, counts: RxErrorCounts) {
        if !self.damaged {
            let _ = write!(
                out,
                "\n(receive error: overruns {}, framing {}, noise {}, parity {} so far; this line will be discarded)\n",
                counts.overruns, counts.framing, counts.noise, counts.parity
            );
        }
        self.damaged = true;
    }

    /// Takes one received byte: echoes what it keeps, edits the line, and at Enter (CR or
    /// LF) returns what was entered. Other control bytes and bytes outside printable ASCII
    /// are ignored, not echoed.
    pub fn on_byte(&mut self, out: &mut impl Write, byte: u8) -> Option<Entered<'_>> {
        match byte {
            b'\r' | b'\n' => {
                let _ = out.write_str("\n");
                let len = core::mem::take(&mut self.len);
                let overlong = core::mem::take(&mut self.overlong);
                if core::mem::take(&mut self.damaged) {
                    let _ = writeln!(out, "that line was damaged on the wire; type it again");
                    return Some(Entered::Damaged);
                }
                if overlong {
                    let _ = writeln!(
                        out,
                        "that line is longer than {LINE_LEN} characters; it was not run"
                    );
                    return Some(Entered::TooLong);
                }
                // Only printable ASCII is ever kept, so the line is UTF-8.
                let text = core::str::from_utf8(&self.line[..len]).unwrap_or("");
                Some(Entered::Line(text.trim()))
            }
            // Backspace and delete.
            0x08 | 0x7f => {
                if self.len > 0 && !self.overlong {
                    self.len -= 1;
                    let _ = out.write_str("\x08 \x08");
                }
                None
            }
            0x20..=0x7e if self.len < LINE_LEN => {
                self.line[self.len] = byte;
                self.len += 1;
                let _ = out.write_char(char::from(byte));
                None
            }
            0x20..=0x7e => {
                if !self.overlong {
                    let _ = write!(out, "\n(line longer than {LINE_LEN} characters)\n");
                }
                self.overlong = true;
                None
            }
            _ => None,
        }
    }
}

/// What a task command does to its task.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Verb {
    Restart,
    Unload,
    Load,
    Fault,
}

impl Verb {
    pub fn participle(self) -> &'static str {
        match self {
            Verb::Restart => "restarted",
            Verb::Unload => "unloaded",
            Verb::Load => "loaded",
            Verb::Fault => "faulted",
        }
    }
}

/// The USB commands; the image's console serves those it has the tasks for.
pub const USB_COMMANDS: [&str; 8] = [
    "usb",
    "plug",
    "unplug",
    "disk",
    "keys",
    "press",
    "serial",
    "overcurrent",
];

/// A parsed command line.
#[derive(Clone, Debug)]
pub enum Command<'a> {
    /// Nothing but blanks.
    Empty,
    Help,
    Tasks,
    Log,
    /// `restart`, `unload`, `load` or `fault` with a task name (further words ignored).
    Act {
        command: &'a str,
        verb: Verb,
        name: &'a str,
    },
    /// A task command without the name.
    MissingName(&'a str),
    /// One of [`USB_COMMANDS`], with its arguments.
    Usb {
        command: &'a str,
        args: SplitWhitespace<'a>,
    },
    Unknown(&'a str),
}

/// Splits `line` into a command and its arguments.
pub fn parse(line: &str) -> Command<'_> {
    let mut words = line.split_whitespace();
    let Some(command) = words.next() else {
        return Command::Empty;
    };
    let verb = match command {
        "help" => return Command::Help,
        "tasks" => return Command::Tasks,
        "log" => return Command::Log,
        "restart" => Verb::Restart,
        "unload" => Verb::Unload,
        "load" => Verb::Load,
        "fault" => Verb::Fault,
        _ if USB_COMMANDS.contains(&command) => {
            return Command::Usb {
                command,
                args: words,
            };
        }
        _ => return Command::Unknown(command),
    };
    match words.next() {
        Some(name) => Command::Act {
            command,
            verb,
            name,
        },
        None => Command::MissingName(command),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The echo and messages, kept for the assertions.
    struct Screen {
        buf: [u8; 1024],
        len: usize,
    }

    impl Write for Screen {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let end = self.len + s.len();
            self.buf
                .get_mut(self.len..end)
                .ok_or(core::fmt::Error)?
                .copy_from_slice(s.as_bytes());
            self.len = end;
            Ok(())
        }
    }

    impl Screen {
        fn new() -> Self {
            Screen {
                buf: [0; 1024],
                len: 0,
            }
        }

        fn text(&self) -> &str {
            core::str::from_utf8(&self.buf[..self.len]).unwrap()
        }
    }

    /// What arrives on the wire: a byte, or a receive error reported before the next byte.
    #[derive(Copy, Clone)]
    enum Rx {
        B(u8),
        Error,
    }

    /// Feeds `input` and returns every Enter's outcome, owned, with the screen.
    fn feed(
        editor: &mut LineEditor,
        input: &[Rx],
    ) -> (Vec<Result<String, Entered<'static>>>, Screen) {
        let mut screen = Screen::new();
        let mut entered = Vec::new();
        let counts = RxErrorCounts {
            framing: 1,
            ..RxErrorCounts::default()
        };
        for rx in input {
            match *rx {
                Rx::B(byte) => match editor.on_byte(&mut screen, byte) {
                    Some(Entered::Line(text)) => entered.push(Ok(text.to_string())),
                    Some(Entered::Damaged) => entered.push(Err(Entered::Damaged)),
                    Some(Entered::TooLong) => entered.push(Err(Entered::TooLong)),
                    None => {}
                },
                Rx::Error => editor.on_damaged(&mut screen, counts),
            }
        }
        (entered, screen)
    }

    fn bytes(text: &[u8]) -> Vec<Rx> {
        text.iter().map(|&b| Rx::B(b)).collect()
    }

    #[test]
    fn a_typed_line_is_echoed_and_entered_trimmed() {
        let (entered, screen) = feed(&mut LineEditor::new(), &bytes(b"  tasks \r"));
        assert_eq!(entered, [Ok("tasks".to_string())]);
        assert_eq!(screen.text(), "  tasks \n");
    }

    #[test]
    fn garbage_bytes_are_neither_kept_nor_echoed() {
        let mut input = bytes(b"ta\x00\x1b\xff\x80sks\x07\xfe\n");
        input.extend(bytes(&[0xC3, 0xA9, b'\r']));
        let (entered, screen) = feed(&mut LineEditor::new(), &input);
        assert_eq!(entered, [Ok("tasks".to_string()), Ok(String::new())]);
        assert_eq!(screen.text(), "tasks\n\n");
    }

    #[test]
    fn backspace_and_delete_edit_and_stop_at_the_line_start() {
        let (entered, screen) = feed(&mut LineEditor::new(), &bytes(b"\x08\x7flogx\x08\x7fg\r"));
        assert_eq!(entered, [Ok("log".to_string())]);
        assert_eq!(screen.text(), "logx\x08 \x08\x08 \x08g\n");
    }

    #[test]
    fn crlf_gives_one_line_and_one_empty_line() {
        let (entered, _) = feed(&mut LineEditor::new(), &bytes(b"help\r\n"));
        assert_eq!(entered, [Ok("help".to_string()), Ok(String::new())]);
    }

    #[test]
    fn an_overlong_line_is_refused_whole_and_the_next_line_is_fine() {
        let mut input = bytes(&[b'a'; LINE_LEN]);
        input.extend(bytes(b"restart pong\x08\x08\r"));
        input.extend(bytes(b"tasks\r"));
        let mut editor = LineEditor::new();
        let (entered, screen) = feed(&mut editor, &input);
        assert_eq!(entered, [Err(Entered::TooLong), Ok("tasks".to_string())]);
        let text = screen.text();
        assert_eq!(text.matches("(line longer than 80 characters)").count(), 1);
        assert!(text.contains("that line is longer than 80 characters; it was not run"));
        // Exactly LINE_LEN characters still fit.
        let mut exact = bytes(&[b'b'; LINE_LEN]);
        exact.push(Rx::B(b'\r'));
        let (entered, _) = feed(&mut editor, &exact);
        assert_eq!(entered, [Ok("b".repeat(LINE_LEN))]);
    }

    #[test]
    fn a_framing_error_discards_the_line_once_and_is_not_fatal() {
        let mut input = bytes(b"resta");
        input.push(Rx::Error);
        input.extend(bytes(b"rt"));
        input.push(Rx::Error);
        input.extend(bytes(b" jefe\r"));
        input.extend(bytes(b"log\r"));
        let (entered, screen) = feed(&mut LineEditor::new(), &input);
        assert_eq!(entered, [Err(Entered::Damaged), Ok("log".to_string())]);
        let text = screen.text();
        assert_eq!(
            text.matches("(receive error: overruns 0, framing 1, noise 0, parity 0 so far; this line will be discarded)").count(),
            1
        );
        assert!(text.contains("that line was damaged on the wire; type it again"));
    }

    #[test]
    fn an_error_with_no_byte_after_it_still_damages_the_line() {
        let mut input = vec![Rx::Error];
        input.extend(bytes(b"\r"));
        let (entered, _) = feed(&mut LineEditor::new(), &input);
        assert_eq!(entered, [Err(Entered::Damaged)]);
    }

    #[test]
    fn commands_parse_with_their_arguments() {
        assert!(matches!(parse(""), Command::Empty));
        assert!(matches!(parse("   "), Command::Empty));
        assert!(matches!(parse("help"), Command::Help));
        assert!(matches!(parse("tasks extra"), Command::Tasks));
        assert!(matches!(parse("log"), Command::Log));
        for (line, verb) in [
            ("restart pong", Verb::Restart),
            ("unload pong", Verb::Unload),
            ("load  pong  more", Verb::Load),
            ("fault pong", Verb::Fault),
        ] {
            match parse(line) {
                Command::Act { verb: v, name, .. } => {
                    assert_eq!((v, name), (verb, "pong"), "{line}")
                }
                other => panic!("{line}: {other:?}"),
            }
        }
        assert!(matches!(parse("restart"), Command::MissingName("restart")));
        match parse("disk read 0 2") {
            Command::Usb { command, args } => {
                assert_eq!(command, "disk");
                assert_eq!(args.collect::<Vec<_>>(), ["read", "0", "2"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(parse("Tasks"), Command::Unknown("Tasks")));
        assert!(matches!(parse("x\u{7f}"), Command::Unknown(_)));
    }
}
