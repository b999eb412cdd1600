//! The client stub: `<Interface>Client`, one method per operation.
//!
//! A method takes the arguments by value, then the leases as borrows (`&[T]`/`&T` to lend
//! read-only, `&mut` to lend writable), and returns `Result<Reply, CallError<E>>`, where `E`
//! is the operation's error enum or `Infallible`. Server death is `CallError::Gone`;
//! idempotent operations are resent once after a restart (see `idol_runtime::client`).

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::codegen::{
    self, args_struct_name, docs, interface_doc, operation_enum_name, operation_variant,
};
use crate::model::{Interface, Lease, Operation};

pub fn generate(iface: &Interface) -> TokenStream {
    let client = format_ident!("{}Client", iface.name);
    let doc = docs(Some(&interface_doc("Client of", iface)));
    let methods = iface.ops.iter().map(|op| method(iface, op));
    let wire_types = codegen::wire_types(iface);
    quote! {
        #wire_types

        #doc
        pub struct #client {
            task: core::cell::Cell<idol_runtime::abi::Incarnation>,
        }

        impl #client {
            /// A client of the server incarnation `task` names. It is refreshed from the
            /// kernel's dead codes, so it may start out stale.
            pub const fn new(task: idol_runtime::abi::Incarnation) -> Self {
                Self {
                    task: core::cell::Cell::new(task),
                }
            }

            /// The server's incarnation as last seen.
            pub fn task(&self) -> idol_runtime::abi::Incarnation {
                self.task.get()
            }

            /// Names the server's current incarnation from now on. For a client that learns
            /// by other means that the server restarted (a handle from it, issued by a third
            /// task), so that its next call, idempotent or not, is not lost to the old one.
            pub fn refresh(&self) {
                self.task.set(idol_runtime::userlib::sys_refresh_incarnation(self.task.get()));
            }

            #(#methods)*
        }

        impl From<idol_runtime::abi::Incarnation> for #client {
            fn from(task: idol_runtime::abi::Incarnation) -> Self {
                Self::new(task)
            }
        }
    }
}

fn method(iface: &Interface, op: &Operation) -> TokenStream {
    let name = format_ident!("{}", op.name);
    let doc = docs(op.doc.as_deref());
    let ok = &op.reply.ok;
    let err = codegen::reply_error_type(op);
    let arg_params = codegen::arg_params(op);
    let lease_params = op.leases.iter().map(lease_param);
    let message = match args_struct_name(iface, op) {
        Some(args) => {
            let fields = op.args.iter().map(|arg| format_ident!("{}", arg.name));
            quote!(idol_runtime::zerocopy::IntoBytes::as_bytes(&#args { #(#fields),* }))
        }
        None => quote!(&[]),
    };
    let leases = op.leases.iter().map(lease_value);
    let operation = operation_enum_name(iface);
    let variant = operation_variant(op);
    let retry = if op.idempotent {
        quote!(OnceAfterRestart)
    } else {
        quote!(Never)
    };
    let allow = codegen::allow_many_params(1 + op.args.len() + op.leases.len());
    quote! {
        #doc
        #allow
        pub fn #name(&self, #(#arg_params,)* #(#lease_params,)*)
            -> Result<#ok, idol_runtime::CallError<#err>>
        {
            let mut reply = [0u8; core::mem::size_of::<#ok>()];
            let len = idol_runtime::client::send(
                &self.task,
                #operation::#variant as u16,
                #message,
                &mut reply,
                &[#(#leases),*],
                idol_runtime::client::Retry::#retry,
            )?;
            idol_runtime::client::decode_reply(&reply, len)
        }
    }
}

/// `src: &[u8]` for a lease the server reads, `dst: &mut [u8]` for one it writes.
fn lease_param(lease: &Lease) -> TokenStream {
    let name = format_ident!("{}", lease.name);
    let target = codegen::lease_target(lease);
    if lease.write {
        quote!(#name: &mut #target)
    } else {
        quote!(#name: &#target)
    }
}

/// The `userlib::Lease` lending a parameter's bytes with the declared direction.
fn lease_value(lease: &Lease) -> TokenStream {
    let name = format_ident!("{}", lease.name);
    match (lease.read, lease.write) {
        (true, true) => quote! {
            idol_runtime::userlib::Lease::read_write(idol_runtime::zerocopy::IntoBytes::as_mut_bytes(#name))
        },
        (false, true) => quote! {
            idol_runtime::userlib::Lease::write_only(idol_runtime::zerocopy::IntoBytes::as_mut_bytes(#name))
        },
        _ => quote! {
            idol_runtime::userlib::Lease::read_only(idol_runtime::zerocopy::IntoBytes::as_bytes(#name))
        },
    }
}
