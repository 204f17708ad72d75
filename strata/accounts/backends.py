"""Login backends: the directory (django-auth-ldap, subclassed) and the local emergency admin.

A directory login is one bind as the person plus one read of their own entry (attributes and memberOf,
maintained by slapd's memberof overlay). Sessions then live in the database: later requests make no
LDAP traffic (get_user reads the database only).
"""

from __future__ import annotations

import contextlib
import logging

import ldap
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django_auth_ldap.backend import LDAPBackend

from . import actions
from .ldap_link import UNAVAILABLE
from .validation import MAX_PASSWORD, is_valid_name

log = logging.getLogger("strata.accounts")


class DirectoryBackend(LDAPBackend):
    """Authenticate people against the site's slapd; mirror their attributes, profile and groups."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if not settings.STRATA_DOMAIN or username is None or password is None:
            return None
        # Refuse before any LDAP traffic: names that would need escaping, and passwords no bind takes
        # (an empty one would be an unauthenticated bind).
        if not is_valid_name(username) or not password or len(password) > MAX_PASSWORD or "\x00" in password:
            return None
        return super().authenticate(request, username=username.lower(), password=password)

    def authenticate_ldap_user(self, ldap_user, password):
        # The base class swallows every LDAPError; a server that does not answer must be told apart
        # from a wrong password, so this follows _LDAPUser.authenticate (django-auth-ldap 5.4.0).
        request = ldap_user._request
        try:
            return self._authenticate(ldap_user, password, request)
        finally:
            # Close the login's connection now: left to the garbage collector, its unbind would reach
            # the directory during some later, unrelated request.
            conn, ldap_user._connection, ldap_user._connection_bound = ldap_user._connection, None, False
            if conn is not None:
                with contextlib.suppress(ldap.LDAPError):
                    conn.unbind_s()

    def _authenticate(self, ldap_user, password, request):
        try:
            ldap_user._authenticate_user_dn(password)
            if actions.is_disabled(ldap_user.attrs or {}):
                raise ldap_user.AuthenticationFailed("disabled in the directory")
            ldap_user._check_requirements()
            ldap_user._get_or_create_user()
        except ldap_user.AuthenticationFailed as exc:
            log.info("directory login refused for %s: %s", ldap_user._username, exc)
            return None
        except UNAVAILABLE as exc:
            log.warning("directory unavailable at login: %s", type(exc).__name__)
            if request is not None:
                request.strata_directory_unavailable = True
            return None
        except ldap.LDAPError as exc:
            log.warning("directory error at login for %s: %s", ldap_user._username, type(exc).__name__)
            return None
        user = ldap_user._user
        if not user.is_active:
            # The bind succeeded, so the directory says this person may log in.
            user.is_active = True
            user.save(update_fields=["is_active"])
        actions.mirror_profile(user, ldap_user.attrs)
        return user

    def get_user(self, user_id):
        user = super().get_user(user_id)
        return user if user is not None and user.is_active else None


class EmergencyBackend(ModelBackend):
    """With the domain role on, only the local emergency admin (password in the secrets file) may log
    in with a database password; it works while the directory is down."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username != settings.SITE["admin_username"]:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
