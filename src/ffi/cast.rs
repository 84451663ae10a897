//! Typed handles, in the manner of rustls-ffi's castable types.
//!
//! Each opaque C type (`scim_engine`, `scim_server`, …) implements [`Castable`]: it names
//! the Rust type behind the pointer and how C holds it, [`OwnershipArc`] (a reference of a
//! shared value: the pointer is `Arc::into_raw`) or [`OwnershipBox`] (the only owner: the
//! pointer is `Box::into_raw`). Every conversion between a handle pointer and Rust goes
//! through the functions here, whose bounds pick the Rust type and the ownership from the
//! handle's type; so a handle cast to the wrong Rust type, or freed as a `Box` when it is
//! an `Arc` (or the reverse), does not compile.
//!
//! Public only so that the doc tests below can show it (hidden from the docs): a host
//! uses the C ABI, not these.
//!
//! ```
//! use scim::ffi::cast::{free_arc, free_box};
//! use scim::ffi::{scim_engine, scim_response};
//! // Freeing each handle the way it is owned compiles (NULL is a no-op).
//! unsafe {
//!     free_arc::<scim_engine>(std::ptr::null());
//!     free_box::<scim_response>(std::ptr::null_mut());
//! }
//! ```
//!
//! An engine is shared (`Arc`): freeing it as a `Box` does not compile.
//!
//! ```compile_fail,E0271
//! use scim::ffi::{cast::free_box, scim_engine};
//! unsafe { free_box::<scim_engine>(std::ptr::null_mut()) }
//! ```
//!
//! A response is owned by one (`Box`): freeing it as an `Arc`, or taking another
//! reference to it, does not compile.
//!
//! ```compile_fail,E0271
//! use scim::ffi::{cast::free_arc, scim_response};
//! unsafe { free_arc::<scim_response>(std::ptr::null()) }
//! ```
//!
//! ```compile_fail,E0271
//! use scim::ffi::{cast::try_clone_arc, scim_server};
//! let _ = unsafe { try_clone_arc::<scim_server>(std::ptr::null(), "server") };
//! ```
//!
//! A handle gives only its own Rust type: an engine pointer is not a server.
//!
//! ```compile_fail,E0308
//! use scim::ffi::{cast::try_ref, scim_engine};
//! let p: *const scim_engine = std::ptr::null();
//! let _: Option<&scim::server::Server> = unsafe { try_ref(p, "engine") }.ok();
//! ```

use super::{null, FfiResult};
use std::sync::Arc;

/// How C holds a handle: [`OwnershipArc`] or [`OwnershipBox`]. Sealed: there is no third.
pub trait Ownership: sealed::Sealed {}

/// The handle pointer is `Arc::into_raw` of the value: one reference of a shared value,
/// released by [`free_arc`].
pub struct OwnershipArc;

/// The handle pointer is `Box::into_raw` of the value: its only owner, released by
/// [`free_box`] (or taken back by [`take_box`]).
pub struct OwnershipBox;

impl Ownership for OwnershipArc {}
impl Ownership for OwnershipBox {}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::OwnershipArc {}
    impl Sealed for super::OwnershipBox {}
}

/// An opaque C handle type, tied to the Rust type behind it and to its ownership. One
/// implementation per handle type, so a handle has exactly one of each.
pub trait Castable {
    /// [`OwnershipArc`] or [`OwnershipBox`].
    type Ownership: Ownership;
    /// The Rust value the handle points to.
    type RustType;
}

/// Borrow the value behind a handle of either ownership, for the duration of a call.
/// NULL is a NULL_PARAMETER failure naming the argument `name`.
///
/// # Safety
/// `p` is NULL or a live handle of type `C` (made by [`to_arc`] or [`to_box`]).
pub unsafe fn try_ref<'a, C: Castable>(p: *const C, name: &str) -> FfiResult<&'a C::RustType> {
    p.cast::<C::RustType>().as_ref().ok_or_else(|| null(name))
}

/// A new reference to a shared handle's value (the caller's handle stays valid), for
/// something that outlives the call, such as a server or a subscription thread.
///
/// # Safety
/// `p` is NULL or a live handle of type `C` made by [`to_arc`].
pub unsafe fn try_clone_arc<C: Castable<Ownership = OwnershipArc>>(
    p: *const C,
    name: &str,
) -> FfiResult<Arc<C::RustType>> {
    if p.is_null() {
        return Err(null(name));
    }
    let p = p.cast::<C::RustType>();
    Arc::increment_strong_count(p);
    Ok(Arc::from_raw(p))
}

/// Hand a reference of a shared value to C: the engine handle is `Arc::into_raw` of the
/// engine itself, with no box around the `Arc`.
pub fn to_arc<C: Castable<Ownership = OwnershipArc>>(value: Arc<C::RustType>) -> *mut C {
    Arc::into_raw(value).cast_mut().cast()
}

/// Release the reference a handle holds (the value is dropped with its last reference).
/// NULL is a no-op.
///
/// # Safety
/// `p` is NULL or a live handle of type `C` made by [`to_arc`]; it is not used again.
pub unsafe fn free_arc<C: Castable<Ownership = OwnershipArc>>(p: *const C) {
    if !p.is_null() {
        drop(Arc::from_raw(p.cast::<C::RustType>()));
    }
}

/// Hand a value to C as the only owner.
pub fn to_box<C: Castable<Ownership = OwnershipBox>>(value: C::RustType) -> *mut C {
    Box::into_raw(Box::new(value)).cast()
}

/// Take an owned handle back from C (`None` for NULL), to stop or drop it.
///
/// # Safety
/// `p` is NULL or a live handle of type `C` made by [`to_box`]; it is not used again.
pub unsafe fn take_box<C: Castable<Ownership = OwnershipBox>>(
    p: *mut C,
) -> Option<Box<C::RustType>> {
    (!p.is_null()).then(|| Box::from_raw(p.cast::<C::RustType>()))
}

/// Drop an owned handle's value. NULL is a no-op.
///
/// # Safety
/// As [`take_box`].
pub unsafe fn free_box<C: Castable<Ownership = OwnershipBox>>(p: *mut C) {
    drop(take_box(p));
}
