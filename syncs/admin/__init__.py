"""The operators' view of syncs: connections (secrets write-only), syncs with their table
bindings, runs with their per-entity results and attempt chain, and a browsable provider
catalog.

As in the jobs and exports admins, state changes go through ``syncs.services`` (trigger,
cancel, retry, check, update) and refusals are reported, never raised. Secret values are
never rendered: a connection's page lists the *names* of its stored secrets and offers a
write-only field to replace them (what is typed there is not echoed back, even when the form
has errors).

Importing this package registers the admins (``admin.autodiscover`` imports ``syncs.admin``).
"""

from syncs.admin.bindings import TableBindingInline
from syncs.admin.connections import ConnectionAdmin, ConnectionForm
from syncs.admin.runs import SyncRunAdmin
from syncs.admin.syncs import StaleFilter, SyncAdmin, SyncForm

__all__ = ["ConnectionAdmin", "ConnectionForm", "StaleFilter", "SyncAdmin", "SyncForm",
           "SyncRunAdmin", "TableBindingInline"]
