"""Template tags of the staff site's frame (templates/admin/base_site.html)."""

from django import template

from crm.admin_site import header_links as collected_header_links

register = template.Library()


@register.inclusion_tag("admin/crm/header_links.html", takes_context=True)
def header_links(context):
    request = context.get("request")
    return {"links": collected_header_links(request) if request is not None else []}
