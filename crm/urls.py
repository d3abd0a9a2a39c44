from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

api_v1 = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("", include("customers.api.urls")),
    path("", include("membership.api.urls")),
    path("", include("segments.api.urls")),
    path("", include("profiles.api.urls")),
    path("", include("crm.api.urls")),
]

handler404 = "crm.api.errors.not_found"
handler500 = "crm.api.errors.server_error"

urlpatterns = [
    path("api/v1/", include((api_v1, "api"))),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    # The public tier icons only, as the proxy serves them in production (docs/deploy.md): the
    # rest of MEDIA_ROOT is personal data, handed out by the views that check and audit.
    urlpatterns += static(
        f"{settings.MEDIA_URL}membership/icons/",
        document_root=settings.MEDIA_ROOT / "membership" / "icons",
    )
