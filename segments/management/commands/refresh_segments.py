from django.core.management.base import BaseCommand

from segments.services.segments import refresh_all_segments, segment_refresh


class Command(BaseCommand):
    help = "Refresh the stored members of every segment (or of --segment ID) with a snapshot."

    def add_arguments(self, parser):
        parser.add_argument("--segment", type=int, default=None, help="Only this segment's id.")

    def handle(self, *args, segment, **options):
        if segment is not None:
            self.stdout.write(f"segment {segment}: {segment_refresh(segment_id=segment)}")
        else:
            self.stdout.write(f"segments.refresh: {refresh_all_segments()}")
