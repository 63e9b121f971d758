"""Articles (web pages, Markdown, copied text) into exercise scripts."""
