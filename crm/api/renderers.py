"""Every API response in the envelope of spec §4: {"success": true, "data": ...} or an error."""

from rest_framework.renderers import JSONRenderer


class EnvelopeJSONRenderer(JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is not None and response.status_code == 204:
            return b""  # No Content: no body, not even an envelope.
        if response is not None and not getattr(response, "enveloped", False):
            if response.status_code >= 400:
                data = {"success": False, "error": data}
            else:
                data = {"success": True, "data": data}
        return super().render(data, accepted_media_type, renderer_context)
