"""The publication panel shared by the Overview and Deliveries pages: last snapshot, alert, publish now."""

from __future__ import annotations

from typing import Any

import streamlit as st

from allocator.store.publication import publication_status, publish_now
from ui.common import session, tr


def _ago(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return tr("app.publication.minutes", n=minutes)
    if minutes < 48 * 60:
        return tr("app.publication.hours", n=minutes // 60)
    return tr("app.publication.days", n=minutes // (24 * 60))


def publication_panel(user: Any, *, key: str, offer: bool = True) -> None:
    """How long ago the last snapshot was published, donations in none yet, and a publish button.

    ``user`` is the logged-in :class:`ui.common.AppUser`; only officers, approvers
    and admins may publish.
    """
    with session() as s:
        ps = publication_status(s)
    if ps.last_at is None:
        st.info(tr("app.publication.never"), icon=":material/public:")
    else:
        age = ps.age()
        st.caption(tr("app.publication.last", ago=_ago(age.total_seconds() if age else 0), seq=ps.last_seq,
                      pending=ps.unpublished_entries))
    if ps.overdue_donations:
        st.warning(tr("app.publication.overdue", n=len(ps.overdue_donations),
                      donations=", ".join(ps.overdue_donations[:10])))
    can = bool(set(user.roles) & {"officer", "approver", "admin"})
    if offer and can and ps.unpublished_entries:
        if st.button(tr("app.publication.publish_now", n=ps.unpublished_entries), key=f"{key}_publish"):
            with session() as s:
                pub = publish_now(s, by=user.name)
            st.success(tr("app.publication.done", seq=pub.head_seq, head=pub.head_hash[:16]))
