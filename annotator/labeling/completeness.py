"""Which required labels a reading still lacks."""

from annotator.labeling.models import Annotation, AnnotationSet
from annotator.projects.selectors import get_current_label_schema


def missing_required_labels(annotation_set: AnnotationSet) -> list[str]:
    """Return the keys of required labels of the current schema with no annotation in the set."""
    schema = get_current_label_schema(project=annotation_set.task.project)
    required = [label["key"] for label in schema.labels if label.get("required")]
    present = set(
        Annotation.objects.filter(annotation_set=annotation_set, deleted=False).values_list(
            "label_key", flat=True
        )
    )
    for segments in Annotation.objects.filter(
        annotation_set=annotation_set, deleted=False, kind="mask"
    ).values_list("data__segments", flat=True):
        present.update(str(s.get("label")) for s in segments or [] if isinstance(s, dict))
    return [key for key in required if key not in present]
