//! Task slots and notify targets: a task names the tasks it talks to by their `app.toml`
//! names, and resolves them at compile time, so a typo or an undeclared peer is a build
//! error, not a runtime surprise. When building a task the builder passes
//!
//! - `BULKHEAD_TASK_SLOTS="name=index,..."`: its `task-slots` (SEND and POST), read by
//!   `task_slot!`;
//! - `BULKHEAD_NOTIFY_TARGETS="name=index,..."`: the keys of its `notify` table (POST only,
//!   to tasks of any priority), read by `notify_target!`;
//! - `BULKHEAD_NOTIFY_BITS="task.notification=bit,..."`: each notification it may raise
//!   there, with its bit number in the target's `notifications`, read by `notify_bits!`.
//!
//! Names are `[a-z][a-z0-9_-]*` (the builder checks), so `.`, `=` and `,` only separate.

/// The number after `key=` in a `key=number,...` list, where `key` is `parts` joined by `.`;
/// `None` if no entry has exactly that key.
pub const fn list_value(list: &str, parts: &[&str]) -> Option<usize> {
    let s = list.as_bytes();
    let mut entry = 0;
    while entry < s.len() {
        if let Some(mut at) = value_start(s, entry, parts) {
            let mut value = 0;
            while at < s.len() && s[at] != b',' {
                value = value * 10 + (s[at] - b'0') as usize;
                at += 1;
            }
            return Some(value);
        }
        while entry < s.len() && s[entry] != b',' {
            entry += 1;
        }
        entry += 1;
    }
    None
}

/// Where the number starts if the entry at `at` has the key `parts` joined by `.`.
const fn value_start(s: &[u8], mut at: usize, parts: &[&str]) -> Option<usize> {
    let mut p = 0;
    while p < parts.len() {
        if p > 0 {
            if at >= s.len() || s[at] != b'.' {
                return None;
            }
            at += 1;
        }
        let part = parts[p].as_bytes();
        let mut j = 0;
        while j < part.len() {
            if at + j >= s.len() || s[at + j] != part[j] {
                return None;
            }
            j += 1;
        }
        at += part.len();
        p += 1;
    }
    if at < s.len() && s[at] == b'=' {
        Some(at + 1)
    } else {
        None
    }
}

/// The index of `name` in a `name=index,...` list; a compile-time error if it is absent.
pub const fn slot_index(slots: &str, name: &str) -> usize {
    match list_value(slots, &[name]) {
        Some(index) => index,
        None => panic!("task slot not declared in app.toml task-slots"),
    }
}

/// The index of `task` among the notify targets; a compile-time error if it is absent.
pub const fn notify_index(targets: &str, task: &str) -> usize {
    match list_value(targets, &[task]) {
        Some(index) => index,
        None => panic!("task not declared in this task's app.toml notify table"),
    }
}

/// The mask of `task`'s notifications `names`; a compile-time error if one is not listed
/// for `task` in this task's `notify` table.
pub const fn notify_mask(bits: &str, task: &str, names: &[&str]) -> u32 {
    let mut mask = 0;
    let mut i = 0;
    while i < names.len() {
        match list_value(bits, &[task, names[i]]) {
            Some(bit) => mask |= 1 << bit,
            None => panic!("notification not declared for this target in app.toml notify"),
        }
        i += 1;
    }
    mask
}

/// `task_slot!(PONG, pong);` defines `const PONG: Incarnation` naming task `pong`'s first
/// incarnation exactly (restart count 0), as SEND and POST take it. Refresh it after a
/// peer-gone code (`peer_gone`, or `sys_refresh_incarnation`). Names that are not
/// identifiers are given as strings: `task_slot!(USB_HCD, "usb-hcd");`.
#[macro_export]
macro_rules! task_slot {
    ($const_name:ident, $task:ident) => {
        $crate::task_slot!($const_name, stringify!($task));
    };
    ($const_name:ident, $task:expr) => {
        const $const_name: $crate::Incarnation =
            $crate::Incarnation::new($crate::slot_index(env!("BULKHEAD_TASK_SLOTS"), $task), 0);
    };
}

/// `notify_target!(HCD, "usb-hcd");` defines `const HCD: TaskId` naming the first
/// incarnation of `usb-hcd`, a key of this task's `notify` table; post to it with
/// `sys_post(sys_refresh_incarnation(HCD), ...)`. The name is a string because task names
/// may hold `-`.
#[macro_export]
macro_rules! notify_target {
    ($vis:vis $const_name:ident, $task:literal) => {
        $vis const $const_name: $crate::TaskId = $crate::TaskId::for_index_and_gen(
            $crate::notify_index(env!("BULKHEAD_NOTIFY_TARGETS"), $task),
            $crate::Generation(0),
        );
    };
}

/// `notify_bits!(HCD_IRQ, "usb-hcd", ["irq"]);` defines `const HCD_IRQ: u32`, the bits of
/// the named notifications in `usb-hcd`'s notification word; each must be listed for
/// `usb-hcd` in this task's `notify` table.
#[macro_export]
macro_rules! notify_bits {
    ($vis:vis $const_name:ident, $task:literal, [$($name:literal),+ $(,)?]) => {
        $vis const $const_name: u32 =
            $crate::notify_mask(env!("BULKHEAD_NOTIFY_BITS"), $task, &[$($name),+]);
    };
}

/// `task`'s index and the mask of its notifications `names` if this task's app.toml `notify`
/// names `task`, else `None`; a compile-time error if it names `task` without one of `names`.
pub const fn optional_notify(
    targets: &str,
    bits: &str,
    task: &str,
    names: &[&str],
) -> Option<(usize, u32)> {
    match list_value(targets, &[task]) {
        Some(index) => Some((index, notify_mask(bits, task, names))),
        None => None,
    }
}

/// `optional_notify!(WATCHER, "console", ["usb-power"]);` defines
/// `const WATCHER: Option<(TaskId, u32)>`: the task (its first incarnation's id) and the bits,
/// when this task's app.toml `notify` names it, else `None`. For a task that tells a watcher
/// some images have and others do not. Outside an app's build (a host check of a task
/// crate, where the builder sets no app) it is `None` too.
#[macro_export]
macro_rules! optional_notify {
    ($vis:vis $const_name:ident, $task:literal, [$($name:literal),+ $(,)?]) => {
        $vis const $const_name: Option<($crate::TaskId, u32)> = match $crate::optional_notify(
            match option_env!("BULKHEAD_NOTIFY_TARGETS") {
                Some(targets) => targets,
                None => "",
            },
            match option_env!("BULKHEAD_NOTIFY_BITS") {
                Some(bits) => bits,
                None => "",
            },
            $task,
            &[$($name),+],
        ) {
            Some((index, bits)) => {
                Some(($crate::TaskId::for_index_and_gen(index, $crate::Generation(0)), bits))
            }
            None => None,
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_optional_notify_target_is_none_when_absent() {
        let targets = "usb-core=4,console=1";
        let bits = "usb-core.port=1,usb-core.xfer=2,console.usb-power=2";
        assert_eq!(
            optional_notify(targets, bits, "console", &["usb-power"]),
            Some((1, 1 << 2))
        );
        assert_eq!(
            optional_notify(targets, bits, "consol", &["usb-power"]),
            None
        );
        assert_eq!(optional_notify("", "", "console", &["usb-power"]), None);
    }

    #[test]
    fn slot_index_finds_exact_names_only() {
        let slots = "pong=2,ping-server=11,idle=3";
        assert_eq!(slot_index(slots, "pong"), 2);
        assert_eq!(slot_index(slots, "ping-server"), 11);
        assert_eq!(slot_index(slots, "idle"), 3);
    }

    #[test]
    #[should_panic(expected = "not declared")]
    fn slot_index_rejects_a_prefix_of_a_declared_name() {
        slot_index("pong=2", "pon");
    }

    #[test]
    fn list_value_matches_whole_dotted_keys_only() {
        let bits = "usb-hcd.irq=0,usb-core.hcd-event=2,usb-core.port=31";
        assert_eq!(list_value(bits, &["usb-hcd", "irq"]), Some(0));
        assert_eq!(list_value(bits, &["usb-core", "port"]), Some(31));
        assert_eq!(list_value(bits, &["usb-core", "hcd"]), None, "a prefix");
        assert_eq!(list_value(bits, &["usb-core"]), None, "the task alone");
        assert_eq!(
            list_value(bits, &["usb-hcd", "hcd-event"]),
            None,
            "another task's bit"
        );
        assert_eq!(list_value("", &["usb-hcd", "irq"]), None);
    }

    #[test]
    fn notify_mask_ors_the_named_bits_of_one_target() {
        let bits = "usb-core.hcd-event=2,usb-core.port=31,class.hcd-event=0";
        assert_eq!(notify_mask(bits, "usb-core", &["hcd-event"]), 1 << 2);
        assert_eq!(
            notify_mask(bits, "usb-core", &["port", "hcd-event"]),
            1 << 31 | 1 << 2
        );
        assert_eq!(notify_mask(bits, "class", &["hcd-event"]), 1);
        const AT_COMPILE_TIME: u32 = notify_mask("t.a=5", "t", &["a"]);
        assert_eq!(AT_COMPILE_TIME, 1 << 5);
    }

    #[test]
    #[should_panic(expected = "notification not declared")]
    fn notify_mask_rejects_a_bit_declared_for_another_target() {
        notify_mask("usb-core.hcd-event=2,class.data=0", "class", &["hcd-event"]);
    }

    #[test]
    fn notify_index_finds_the_target() {
        assert_eq!(notify_index("usb-hcd=3,usb-core=4", "usb-core"), 4);
    }

    #[test]
    #[should_panic(expected = "not declared in this task's app.toml notify")]
    fn notify_index_rejects_an_undeclared_target() {
        notify_index("usb-hcd=3", "usb-core");
    }
}
