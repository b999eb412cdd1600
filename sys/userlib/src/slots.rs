//! Task slots: a task names the tasks it talks to by their `app.toml` names. The builder
//! passes `BULKHEAD_TASK_SLOTS="name=index,..."` (the task's declared slots) when building
//! it, and `task_slot!` resolves a name at compile time, so a typo or an undeclared peer is
//! a build error, not a runtime surprise.

/// The index of `name` in a `name=index,...` list; a compile-time error if it is absent.
pub const fn slot_index(slots: &str, name: &str) -> usize {
    let (s, n) = (slots.as_bytes(), name.as_bytes());
    let mut i = 0;
    while i < s.len() {
        let mut j = 0;
        while j < n.len() && i + j < s.len() && s[i + j] == n[j] {
            j += 1;
        }
        let mut k = i + j;
        if j == n.len() && k < s.len() && s[k] == b'=' {
            k += 1;
            let mut value = 0;
            while k < s.len() && s[k] != b',' {
                value = value * 10 + (s[k] - b'0') as usize;
                k += 1;
            }
            return value;
        }
        while i < s.len() && s[i] != b',' {
            i += 1;
        }
        i += 1;
    }
    panic!("task slot not declared in app.toml task-slots")
}

/// `task_slot!(PONG, pong);` defines `const PONG: TaskId` naming task `pong`'s first
/// incarnation. Refresh it after a peer-gone code (`refresh_after`). Names that are not
/// identifiers are given as strings: `task_slot!(USB_HCD, "usb-hcd");`.
#[macro_export]
macro_rules! task_slot {
    ($const_name:ident, $task:ident) => {
        $crate::task_slot!($const_name, stringify!($task));
    };
    ($const_name:ident, $task:expr) => {
        const $const_name: $crate::TaskId = $crate::TaskId::for_index_and_gen(
            $crate::slot_index(env!("BULKHEAD_TASK_SLOTS"), $task),
            $crate::Generation(0),
        );
    };
}

#[cfg(test)]
mod tests {
    use super::slot_index;

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
}
