"""nbgrader preprocessors the course adds to autograding (see ``nbgrader_config.py``)."""

from __future__ import annotations

from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Integer

__all__ = ["LimitOutputSize"]


class LimitOutputSize(NbGraderPreprocessor):
    """Cut every text output to ``max_chars`` characters.

    nbgrader's ``LimitOutput`` counts lines, so one ``print`` of a megabyte-long line would
    still land whole in the autograded notebook, the gradebook's feedback and the HTML.
    """

    max_chars = Integer(20_000, help="maximum characters kept per output").tag(config=True)

    def _cut(self, text: str) -> str:
        if len(text) <= self.max_chars:
            return text
        return text[: self.max_chars] + f"\n... output truncated ({len(text):,} characters) ...\n"

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type != "code":
            return cell, resources
        for output in cell.outputs:
            if output.output_type == "stream":
                output.text = self._cut(output.text)
            elif output.output_type in ("execute_result", "display_data"):
                data = output.get("data", {})
                for mime in [m for m in data if m.startswith("text/")]:
                    value = data[mime]
                    data[mime] = self._cut(value if isinstance(value, str) else "".join(value))
        return cell, resources
