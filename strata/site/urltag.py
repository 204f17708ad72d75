"""{% url %} with each result remembered (a template builtin: it replaces Django's tag of the same name).

A page reverses twenty-odd URLs and Django's reverse() costs ~0.1 ms each (the resolver's locals and
converters): about a tenth of the folder page's time (bench/reports/pages.md). The URL of a view name
with the same arguments never changes while the process runs, so it is computed once. Only arguments
that are plain ints and strings are remembered (a model instance could reverse through a changing
__str__); anything else reverses as Django's tag does.
"""

from __future__ import annotations

from functools import lru_cache

from django import template
from django.template import defaulttags
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString

register = template.Library()
_ENV = "strata.urltag.env"


@lru_cache(maxsize=8192)
def _reverse(view_name, args: tuple, kwargs: tuple, current_app, prefix: str, urlconf) -> str:
    return reverse(view_name, urlconf=urlconf, args=args, kwargs=dict(kwargs), current_app=current_app)


# A template's string literals ('folders' in {% url 'files:share' 'folders' folder.id %}) are SafeStrings.
_PLAIN = (int, str, SafeString)


def _plain(values) -> bool:
    return all(type(v) in _PLAIN for v in values)


class CachedURLNode(defaulttags.URLNode):
    def render(self, context):
        args = tuple(arg.resolve(context) for arg in self.args)
        kwargs = tuple(sorted((k, v.resolve(context)) for k, v in self.kwargs.items()))
        view_name = self.view_name.resolve(context)
        request = getattr(context, "request", None)
        current_app = getattr(request, "current_app", None)
        if current_app is None:
            current_app = getattr(getattr(request, "resolver_match", None), "namespace", None)
        url = ""
        try:
            if isinstance(view_name, str) and _plain(args) and _plain(v for _, v in kwargs):
                # The script prefix and URLconf are the same for the whole render (thread locals: read once).
                env = context.render_context.get(_ENV)
                if env is None:
                    env = context.render_context[_ENV] = (get_script_prefix(), get_urlconf())
                url = _reverse(view_name, args, kwargs, current_app, *env)
            else:
                url = reverse(view_name, args=args, kwargs=dict(kwargs), current_app=current_app)
        except NoReverseMatch:
            if self.asvar is None:
                raise
        if self.asvar:
            context[self.asvar] = url
            return ""
        return conditional_escape(url) if context.autoescape else url


@register.tag
def url(parser, token):
    node = defaulttags.url(parser, token)
    node.__class__ = CachedURLNode
    return node


def reverse_plain(view_name: str, args: tuple, env: tuple[str, object]) -> str:
    """The URL of VIEW_NAME with positional ARGS under ENV (the script prefix and URLconf), as {% url %}
    gives it: remembered when ARGS are plain ints and strings (the Jinja2 pages' url())."""
    if _plain(args):
        return _reverse(view_name, args, (), None, *env)
    return reverse(view_name, args=args)
