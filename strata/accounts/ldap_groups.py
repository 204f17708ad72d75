"""The group type for django-auth-ldap, importable from settings (no models)."""

import ldap
from django_auth_ldap.config import LDAPGroupType

from .ldap_link import normalize_dn


class MemberOfGroupType(LDAPGroupType):
    """Groups from the person's own memberOf values: no group search, so the person's own bind (which
    may read only their entry) is enough."""

    def __init__(self, groups_dn: str):
        super().__init__(name_attr="cn")
        self.groups_dn = normalize_dn(groups_dn)

    def user_groups(self, ldap_user, group_search):
        out = []
        for raw in (ldap_user.attrs or {}).get("memberOf", []):
            dn = raw.decode() if isinstance(raw, bytes) else raw
            rdns = ldap.dn.str2dn(dn)
            if normalize_dn(ldap.dn.dn2str(rdns[1:])) != self.groups_dn or rdns[0][0][0].lower() != "cn":
                continue
            out.append((dn.lower(), {"cn": [rdns[0][0][1].lower()]}))
        return out

    def is_member(self, ldap_user, group_dn):
        return group_dn.lower() in {dn for dn, _ in self.user_groups(ldap_user, None)}
