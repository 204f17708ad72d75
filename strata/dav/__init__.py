"""WebDAV at /dav/: the files app as a network drive (WsgiDAV over Strata's files models and actions)."""
