from django_tasks import task


@task()
def ping(value: str = "pong") -> str:
    """Return VALUE: proves the worker takes tasks from the queue (tests, operators)."""
    return value
