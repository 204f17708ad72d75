from django.conf import settings


def site(request):
    # Not "site_name": the auth views put the request host under that name.
    return {"strata_site_name": settings.SITE["name"]}
