"""Client-facing APIs in other shapes: requests translated to chat completions, answers translated back."""
