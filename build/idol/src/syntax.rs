//! The `.idol` file as written: RON, deserialised with `serde`, not yet checked.
//!
//! Unknown keys are errors (`deny_unknown_fields`), so a misspelt `idempotnet: true` cannot
//! silently change an interface. Maps keep declaration order and duplicate keys, because
//! order is the wire protocol (operation numbers, argument packing, lease indices) and a
//! duplicate must be reported, not silently dropped.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interface {
    pub name: String,
    #[serde(default)]
    pub doc: Option<String>,
    pub ops: Ordered<Operation>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operation {
    #[serde(default)]
    pub doc: Option<String>,
    /// Argument name to type.
    #[serde(default)]
    pub args: Ordered<String>,
    #[serde(default)]
    pub leases: Ordered<Lease>,
    pub reply: Reply,
    #[serde(default)]
    pub idempotent: bool,
    #[serde(default)]
    pub deferred: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lease {
    #[serde(rename = "type")]
    pub ty: String,
    #[serde(default)]
    pub read: bool,
    #[serde(default)]
    pub write: bool,
    #[serde(default)]
    pub max_len: Option<u32>,
}

#[derive(Deserialize)]
pub enum Reply {
    Simple(String),
    Result { ok: String, err: ErrorType },
}

#[derive(Deserialize)]
pub enum ErrorType {
    /// A C-like enum carried in the response code.
    CLike(String),
}

/// A RON map as the ordered list of its entries, duplicates included.
pub struct Ordered<T>(pub Vec<(String, T)>);

impl<T> Default for Ordered<T> {
    fn default() -> Self {
        Ordered(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Ordered<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for EntriesVisitor<T> {
            type Value = Ordered<T>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Ordered(entries))
            }
        }

        deserializer.deserialize_map(EntriesVisitor(PhantomData))
    }
}
