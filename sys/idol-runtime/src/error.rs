//! Operation errors carried in response codes.

use core::convert::Infallible;

/// An error type that travels as a reply's response code (`err: CLike("E")` in an `.idol`
/// file).
///
/// Codes are nonzero `u16`s: 0 is success, and every code above `u16::MAX` is reserved for
/// the kernel's dead and unavailable codes, so an operation error can never be mistaken for
/// either. [`error_enum!`](crate::error_enum) implements this for a C-like enum and checks at
/// compile time that no variant is 0.
pub trait ErrorCode: Sized {
    /// The response code; never 0.
    fn code(self) -> u16;
    /// The error a response code stands for, if any.
    fn from_code(code: u16) -> Option<Self>;
}

/// The error type of operations declared `reply: Simple(..)`: they have no error of their own.
impl ErrorCode for Infallible {
    fn code(self) -> u16 {
        match self {}
    }

    fn from_code(_: u16) -> Option<Self> {
        None
    }
}

/// Declares a C-like `#[repr(u16)]` error enum and implements [`ErrorCode`] for it.
///
/// Every variant needs an explicit, nonzero discriminant: they are the wire codes, so they
/// must not move when variants are added. The enum derives `Copy, Clone, Debug, PartialEq,
/// Eq`; further attributes are passed through.
///
/// ```
/// idol_runtime::error_enum! {
///     /// Why `echo` failed.
///     pub enum EchoError {
///         /// The source is longer than the destination.
///         TooLong = 1,
///     }
/// }
/// use idol_runtime::ErrorCode;
/// assert_eq!(EchoError::TooLong.code(), 1);
/// assert_eq!(EchoError::from_code(1), Some(EchoError::TooLong));
/// assert_eq!(EchoError::from_code(2), None);
/// ```
#[macro_export]
macro_rules! error_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident = $code:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Copy, Clone, Debug, PartialEq, Eq)]
        #[repr(u16)]
        $vis enum $name {
            $( $(#[$variant_meta])* $variant = $code ),+
        }

        // Code 0 means success on the wire.
        const _: () = {
            $( assert!($code != 0, concat!(stringify!($name), "::", stringify!($variant), " must not be 0")); )+
        };

        impl $crate::ErrorCode for $name {
            fn code(self) -> u16 {
                self as u16
            }

            fn from_code(code: u16) -> Option<Self> {
                match code {
                    $( $code => Some($name::$variant), )+
                    _ => None,
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    error_enum! {
        enum Sample {
            First = 1,
            Last = 0xFFFF,
        }
    }

    #[test]
    fn error_enum_round_trips_every_code() {
        for e in [Sample::First, Sample::Last] {
            assert_eq!(Sample::from_code(e.code()), Some(e));
        }
        assert_eq!(Sample::from_code(0), None);
        assert_eq!(Sample::from_code(2), None);
    }

    #[test]
    fn infallible_decodes_no_code() {
        assert!(Infallible::from_code(1).is_none());
    }
}
