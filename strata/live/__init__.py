"""Live updates: events for one person (a new message, an unread count, a share), stored in the database
and announced with PostgreSQL NOTIFY; server.py streams them to open pages as Server-Sent Events."""
