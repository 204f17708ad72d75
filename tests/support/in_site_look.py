"""Functions the look (phones, accessibility, screenshots) tests run inside the stack's Django, through
Stack.call: one small workspace whose main pages all have something to show. JSON in, JSON out."""

from __future__ import annotations

from typing import Any


def seed_workspace(prefix: str) -> dict[str, Any]:
    """Create PREFIX_ann (staff and superuser) and PREFIX_bob, a conversation between them, a folder
    holding a file in Ann's space and a share of that file with Bob; return the ids and usernames the
    pages need."""
    import io

    from django.contrib.auth.models import User

    from strata.files import actions as files
    from strata.messaging import actions as messaging
    from strata.people.actions import update_contact_details

    people = {}
    for short, first, last, title in (
        ("ann", "Ann", "Archer", "Head of research"),
        ("bob", "Bob", "Baker", "Field engineer"),
    ):
        user, _ = User.objects.get_or_create(username=f"{prefix}_{short}")
        user.set_password("correct horse battery " + user.username)
        user.is_staff = user.is_superuser = short == "ann"
        user.save()
        update_contact_details(
            user,
            first_name=first,
            last_name=last,
            email=f"{user.username}@example.invalid",
            phone="+1 555 0100",
            fax="",
            title=title,
            department="Research",
        )
        people[short] = user
    ann, bob = people["ann"], people["bob"]
    first = messaging.start_conversation(
        ann, bob.username, "Quarterly report", "Hello Bob, the draft is in the Reports folder."
    )
    messaging.post_message(first.conversation, bob, "Thanks Ann, reading it now.")
    conversation = first.conversation_id
    space = files.personal_space(ann)
    folder = files.create_folder(ann, space, None, "Reports")
    data = b"Quarterly figures\n" * 64
    file = files.upload_file(ann, space, folder, "q3-summary.txt", io.BytesIO(data), len(data))
    files.share(ann, file, username=bob.username, permission="read")
    return {
        "ann": ann.username,
        "bob": bob.username,
        "conversation": conversation,
        "folder": folder.pk,
        "space": space.pk,
        "file": file.pk,
    }
