//! How many flow runs may be in progress: in total and per tenant, counting runs a caller waits
//! for and background runs alike. A run holds its slot until it ends (also when the caller that
//! waited for it went away), so memory and provider calls stay bounded, and one tenant filling
//! its share can't make another tenant's runs fail.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use flowvault_core::TenantId;

/// The most runs in progress at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunCapacity {
    /// In this process, all tenants together (default 128).
    pub total: usize,
    /// Per tenant (default 32).
    pub per_tenant: usize,
}

impl Default for RunCapacity {
    fn default() -> Self {
        Self { total: 128, per_tenant: 32 }
    }
}

/// Which limit a run met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunLimit {
    /// The tenant's share.
    Tenant(usize),
    /// The process's total.
    Total(usize),
}

impl std::fmt::Display for RunLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunLimit::Tenant(n) => write!(f, "this tenant has {n} flow runs in progress already"),
            RunLimit::Total(n) => write!(f, "{n} flow runs are in progress already"),
        }
    }
}

/// The slots of one process.
#[derive(Debug)]
pub(crate) struct RunSlots {
    capacity: RunCapacity,
    taken: Mutex<Taken>,
}

#[derive(Debug, Default)]
struct Taken {
    total: usize,
    by_tenant: HashMap<TenantId, usize>,
}

/// A slot, given back when dropped.
#[derive(Debug)]
pub(crate) struct RunSlot {
    slots: Arc<RunSlots>,
    tenant: TenantId,
}

impl RunSlots {
    pub(crate) fn new(capacity: RunCapacity) -> Arc<Self> {
        Arc::new(Self { capacity, taken: Mutex::new(Taken::default()) })
    }

    /// A slot for a run of `tenant`, or the limit that is full.
    pub(crate) fn try_take(self: &Arc<Self>, tenant: &TenantId) -> Result<RunSlot, RunLimit> {
        let mut taken = self.taken.lock().unwrap_or_else(PoisonError::into_inner);
        let mine = taken.by_tenant.get(tenant).copied().unwrap_or(0);
        if mine >= self.capacity.per_tenant {
            return Err(RunLimit::Tenant(self.capacity.per_tenant));
        }
        if taken.total >= self.capacity.total {
            return Err(RunLimit::Total(self.capacity.total));
        }
        taken.total += 1;
        taken.by_tenant.insert(tenant.clone(), mine + 1);
        Ok(RunSlot { slots: self.clone(), tenant: tenant.clone() })
    }
}

impl Drop for RunSlot {
    fn drop(&mut self) {
        let mut taken = self.slots.taken.lock().unwrap_or_else(PoisonError::into_inner);
        taken.total = taken.total.saturating_sub(1);
        if let Some(n) = taken.by_tenant.get_mut(&self.tenant) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                taken.by_tenant.remove(&self.tenant);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_tenant_leaves_room_for_others_and_slots_come_back() {
        let slots = RunSlots::new(RunCapacity { total: 3, per_tenant: 2 });
        let (a, b, c) = (TenantId::generate(), TenantId::generate(), TenantId::generate());
        let a1 = slots.try_take(&a);
        let a2 = slots.try_take(&a);
        assert!(a1.is_ok() && a2.is_ok());
        assert_eq!(slots.try_take(&a).err(), Some(RunLimit::Tenant(2)));
        let b1 = slots.try_take(&b);
        assert!(b1.is_ok());
        assert_eq!(slots.try_take(&c).err(), Some(RunLimit::Total(3)));
        drop(a1);
        assert!(slots.try_take(&c).is_ok());
        drop((a2, b1));
        assert!(slots.taken.lock().is_ok_and(|t| t.total == 0 && t.by_tenant.is_empty()));
    }
}
