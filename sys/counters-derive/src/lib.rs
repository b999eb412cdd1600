//! `#[derive(Count)]`: one `AtomicU32` counter per variant of an event enum.
//!
//! For `enum Event { Started, TaskFaulted(u16) }` it generates
//!
//! ```ignore
//! pub struct EventCounts {
//!     pub started: core::sync::atomic::AtomicU32,
//!     pub task_faulted: core::sync::atomic::AtomicU32,
//! }
//! impl counters::Count for Event { ... }
//! ```
//!
//! with the enum's visibility. The struct name contains `Counts` and each member is core's
//! `AtomicU32`, which is what `humility counters` looks for (doc/humility-contract.md 4.4); member
//! names are the variants in `snake_case`.

use heck::ToSnakeCase;
use proc_macro::TokenStream;
use proc_macro2::Span;
use quote::{format_ident, quote};
use syn::{Data, DeriveInput, Fields, Ident};

#[proc_macro_derive(Count)]
pub fn derive_count(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(tokens) => tokens.into(),
        Err(error) => error.to_compile_error().into(),
    }
}

fn expand(input: &DeriveInput) -> syn::Result<proc_macro2::TokenStream> {
    let Data::Enum(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "Count can only be derived for an enum",
        ));
    };
    if !input.generics.params.is_empty() {
        // Generic counters would give each instantiation its own struct name, which
        // humility could not tell apart.
        return Err(syn::Error::new_spanned(
            &input.generics,
            "Count cannot be derived for a generic enum",
        ));
    }
    let name = &input.ident;
    let vis = &input.vis;
    let counts = format_ident!("{}Counts", name);
    let doc = format!(" How many times each `{name}` variant was counted.");
    let fields: Vec<Ident> = data.variants.iter().map(|v| field_name(&v.ident)).collect();
    let arms = data.variants.iter().zip(&fields).map(|(variant, field)| {
        let ident = &variant.ident;
        let pattern = match variant.fields {
            Fields::Named(_) => quote!(#name::#ident { .. }),
            Fields::Unnamed(_) => quote!(#name::#ident(..)),
            Fields::Unit => quote!(#name::#ident),
        };
        quote!(#pattern => &counters.#field)
    });
    let count_body = if fields.is_empty() {
        quote!(match *self {})
    } else {
        quote! {
            let counter = match self { #(#arms,)* };
            counter.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        }
    };
    Ok(quote! {
        #[doc = #doc]
        #vis struct #counts {
            #(pub #fields: core::sync::atomic::AtomicU32,)*
        }

        impl counters::Count for #name {
            type Counters = #counts;

            const NEW_COUNTERS: #counts = #counts {
                #(#fields: core::sync::atomic::AtomicU32::new(0),)*
            };

            fn count(&self, counters: &#counts) {
                #count_body
            }
        }
    })
}

/// `TaskFaulted` -> `task_faulted`; a keyword (`Type` -> `type`) becomes a raw identifier,
/// which DWARF still names `type`.
fn field_name(variant: &Ident) -> Ident {
    let snake = variant.to_string().to_snake_case();
    if syn::parse_str::<Ident>(&snake).is_ok() {
        Ident::new(&snake, Span::call_site())
    } else {
        Ident::new_raw(&snake, Span::call_site())
    }
}
