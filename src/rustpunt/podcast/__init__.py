"""Publishing built episodes: the RSS feed and cover art."""
