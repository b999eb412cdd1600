//! The server stub: the `InOrder<Interface>Impl` trait, the operation table, and `dispatch`.
//!
//! `dispatch` receives one message; `idol_runtime::server::recv` checks it against the
//! table and faults a malformed caller; the generated match decodes the arguments, hands
//! the checked leases to the trait method and replies with what it returns. A deferred
//! operation's method returns nothing: it gets an `idol_runtime::ReplyToken` owning the
//! call's leases (as a generated `<Interface><Op>Leases` struct), and answers through it.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use crate::ServerOptions;
use crate::codegen::{
    self, args_struct_name, docs, interface_doc, operation_enum_name, operation_variant,
};
use crate::model::{Interface, Lease, LeaseShape, Operation};

pub fn generate(iface: &Interface, options: &ServerOptions) -> TokenStream {
    let trait_name = format_ident!("InOrder{}Impl", iface.name);
    let trait_doc = docs(Some(&format!(
        "{}\n\nOne method per operation, called once the message and leases have been checked.\nA method answers by returning; `Err(RequestError::ClientGone)` sends nothing. A deferred\noperation answers through its `reply` token instead, now or after later calls.",
        interface_doc("Server of", iface)
    )));
    let operations = operation_table_name(iface);
    let operation = operation_enum_name(iface);
    let wire_types = codegen::wire_types(iface);
    let arg_sizes = iface.ops.iter().filter_map(|op| {
        let args = args_struct_name(iface, op)?;
        Some(quote!(core::mem::size_of::<#args>()))
    });
    let deferred_leases = iface.ops.iter().filter_map(|op| deferred_leases(iface, op));
    let methods = iface.ops.iter().map(|op| trait_method(iface, op));
    let specs = iface.ops.iter().map(|op| op_spec(iface, op, options));
    let arms = iface.ops.iter().map(|op| dispatch_arm(iface, op));
    quote! {
        #wire_types

        /// Size of the receive buffer: the largest argument struct.
        pub const INCOMING_SIZE: usize = idol_runtime::max_size(&[#(#arg_sizes),*]);

        #(#deferred_leases)*

        #trait_doc
        pub trait #trait_name {
            #(#methods)*

            /// Notification bits to receive between calls.
            fn notification_mask(&self) -> u32 {
                0
            }

            /// Called with the bits of `notification_mask` that fired.
            fn handle_notification(&mut self, _bits: u32) {}
        }

        /// What `dispatch` checks each call against; operation `n` is entry `n - 1`.
        const #operations: &[idol_runtime::server::OpSpec<#operation>] = &[#(#specs),*];

        /// Receives one message and answers it, or handles the notifications that arrived.
        pub fn dispatch<S: #trait_name>(buffer: &mut [u8; INCOMING_SIZE], server: &mut S) {
            match idol_runtime::server::recv(buffer, server.notification_mask(), #operations) {
                idol_runtime::server::Incoming::Notification(bits) => server.handle_notification(bits),
                idol_runtime::server::Incoming::Call(call) => match call.operation {
                    #(#arms)*
                },
                idol_runtime::server::Incoming::Refused => {}
            }
        }
    }
}

fn operation_table_name(iface: &Interface) -> proc_macro2::Ident {
    use heck::ToShoutySnakeCase;
    format_ident!("{}_OPERATIONS", iface.name.to_shouty_snake_case())
}

fn trait_method(iface: &Interface, op: &Operation) -> TokenStream {
    let name = format_ident!("{}", op.name);
    let ok = &op.reply.ok;
    let err = codegen::reply_error_type(op);
    let args = codegen::arg_params(op);
    if op.deferred {
        let doc = docs(Some(&format!(
            "{}{}Deferred: the caller waits until `reply` is answered, now or later.",
            op.doc.as_deref().unwrap_or(""),
            if op.doc.is_some() { "\n\n" } else { "" },
        )));
        let leases = leases_type(iface, op);
        let allow = codegen::allow_many_params(3 + op.args.len());
        return quote! {
            #doc
            #allow
            fn #name(
                &mut self,
                msg: &idol_runtime::userlib::RecvMessage,
                #(#args,)*
                reply: idol_runtime::ReplyToken<#ok, #err, #leases>,
            );
        };
    }
    let doc = docs(op.doc.as_deref());
    let leases = op.leases.iter().map(|lease| {
        let name = format_ident!("{}", lease.name);
        let ty = leased_type(lease);
        quote!(#name: #ty)
    });
    let allow = codegen::allow_many_params(2 + op.args.len() + op.leases.len());
    quote! {
        #doc
        #allow
        fn #name(
            &mut self,
            msg: &idol_runtime::userlib::RecvMessage,
            #(#args,)*
            #(#leases,)*
        ) -> Result<#ok, idol_runtime::RequestError<#err>>;
    }
}

/// `idol_runtime::Leased<Access, T>` for a checked lease.
fn leased_type(lease: &Lease) -> TokenStream {
    let access = access(lease);
    let target = codegen::lease_target(lease);
    quote!(idol_runtime::Leased<idol_runtime::#access, #target>)
}

/// The struct of `Leased` a deferred operation's token owns, or `None` if it takes no
/// leases (its token owns `()`).
fn deferred_leases_name(iface: &Interface, op: &Operation) -> Option<proc_macro2::Ident> {
    (op.deferred && !op.leases.is_empty())
        .then(|| format_ident!("{}{}Leases", iface.name, op.camel_name()))
}

fn leases_type(iface: &Interface, op: &Operation) -> TokenStream {
    match deferred_leases_name(iface, op) {
        Some(name) => quote!(#name),
        None => quote!(()),
    }
}

fn deferred_leases(iface: &Interface, op: &Operation) -> Option<TokenStream> {
    let name = deferred_leases_name(iface, op)?;
    let doc = format!(
        " The leases of `{}.{}`, owned by its reply token until it is answered.",
        iface.name, op.name
    );
    let fields = op.leases.iter().map(|lease| {
        let field = format_ident!("{}", lease.name);
        let ty = leased_type(lease);
        quote!(pub #field: #ty)
    });
    Some(quote! {
        #[doc = #doc]
        pub struct #name {
            #(#fields,)*
        }
    })
}

fn access(lease: &Lease) -> proc_macro2::Ident {
    match (lease.read, lease.write) {
        (true, true) => format_ident!("ReadWrite"),
        (false, true) => format_ident!("Write"),
        _ => format_ident!("Read"),
    }
}

fn op_spec(iface: &Interface, op: &Operation, options: &ServerOptions) -> TokenStream {
    let operation = operation_enum_name(iface);
    let variant = operation_variant(op);
    let args_size = match args_struct_name(iface, op) {
        Some(args) => quote!(core::mem::size_of::<#args>()),
        None => quote!(0),
    };
    let ok = &op.reply.ok;
    let leases = op.leases.iter().map(|lease| {
        let access = access(lease);
        match &lease.shape {
            LeaseShape::Value(ty) => {
                quote!(idol_runtime::server::LeaseSpec::value::<idol_runtime::#access, #ty>())
            }
            LeaseShape::Slice { element, max_len } => {
                let max_len = match max_len {
                    Some(n) => {
                        let n = Literal::u32_unsuffixed(*n);
                        quote!(Some(#n))
                    }
                    None => quote!(None),
                };
                quote!(idol_runtime::server::LeaseSpec::slice::<idol_runtime::#access, #element>(#max_len))
            }
        }
    });
    let allowed_callers = match options.allowed_callers.get(&op.name) {
        Some(callers) => {
            let callers = callers.iter().map(|&index| Literal::u16_unsuffixed(index));
            quote!(Some(&[#(#callers),*]))
        }
        None => quote!(None),
    };
    quote! {
        idol_runtime::server::OpSpec {
            operation: #operation::#variant,
            args_size: #args_size,
            reply_size: core::mem::size_of::<#ok>(),
            leases: &[#(#leases),*],
            allowed_callers: #allowed_callers,
        }
    }
}

fn dispatch_arm(iface: &Interface, op: &Operation) -> TokenStream {
    let operation = operation_enum_name(iface);
    let variant = operation_variant(op);
    if op.deferred {
        let body = deferred_dispatch(iface, op);
        return quote! {
            #operation::#variant => {
                #body
            }
        };
    }
    let method = format_ident!("{}", op.name);
    let leases = lease_exprs(op);
    let result = match args_struct_name(iface, op) {
        Some(args) => {
            let fields = op.args.iter().map(|arg| {
                let field = format_ident!("{}", arg.name);
                quote!(args.#field)
            });
            quote! {
                call.args(buffer).and_then(|args: #args| {
                    server.#method(&call.msg, #(#fields,)* #(#leases),*)
                })
            }
        }
        None => quote!(server.#method(&call.msg, #(#leases),*)),
    };
    quote! {
        #operation::#variant => {
            let result = #result;
            call.reply(result);
        }
    }
}

/// `call.lease(0)`, `call.lease(1)`... in declaration order.
fn lease_exprs(op: &Operation) -> impl Iterator<Item = TokenStream> {
    (0..op.leases.len()).map(|index| {
        let index = Literal::usize_unsuffixed(index);
        quote!(call.lease(#index))
    })
}

/// Decodes the arguments (answering a bad one at once, as for any operation), then turns
/// the call into a reply token that owns the leases and hands it to the method.
fn deferred_dispatch(iface: &Interface, op: &Operation) -> TokenStream {
    let method = format_ident!("{}", op.name);
    let leases = match deferred_leases_name(iface, op) {
        Some(name) => {
            let fields = op.leases.iter().zip(lease_exprs(op)).map(|(lease, expr)| {
                let field = format_ident!("{}", lease.name);
                quote!(#field: #expr)
            });
            quote!(#name { #(#fields,)* })
        }
        None => quote!(()),
    };
    let handoff = |fields: TokenStream| {
        quote! {
            let msg = call.msg;
            let leases = #leases;
            server.#method(&msg, #fields call.defer(leases));
        }
    };
    let Some(args) = args_struct_name(iface, op) else {
        return handoff(quote!());
    };
    let fields = op.args.iter().map(|arg| {
        let field = format_ident!("{}", arg.name);
        quote!(args.#field,)
    });
    let handoff = handoff(quote!(#(#fields)*));
    let ok = &op.reply.ok;
    let err = codegen::reply_error_type(op);
    quote! {
        match call.args::<#args, #err>(buffer) {
            Ok(args) => {
                #handoff
            }
            Err(error) => call.reply::<#ok, #err>(Err(error)),
        }
    }
}
