//! Formatting a line of text without allocation.

/// A fixed-capacity text buffer for `core::fmt::Write`; what does not fit is cut off, so a
/// long value shortens a log line instead of failing the task.
pub struct TextBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> TextBuf<N> {
    pub const fn new() -> Self {
        TextBuf {
            buf: [0; N],
            len: 0,
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    pub fn clear(&mut self) {
        self.len = 0;
    }
}

impl<const N: usize> Default for TextBuf<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> core::fmt::Write for TextBuf<N> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let n = s.len().min(N - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::TextBuf;
    use core::fmt::Write;

    #[test]
    fn text_past_capacity_is_cut_off() {
        let mut t = TextBuf::<8>::new();
        write!(t, "TEST {} ok", 12345).unwrap();
        assert_eq!(t.as_bytes(), b"TEST 123");
        t.clear();
        assert_eq!(t.as_bytes(), b"");
    }
}
