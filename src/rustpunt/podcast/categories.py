"""Apple Podcasts' categories and their subcategories, as Apple lists them for `itunes:category`
(podcasters.apple.com, "Apple Podcasts categories"): a feed with any other value is refused or
filed nowhere, so `rustpunt feed` checks the show's against this list before writing."""

from __future__ import annotations

import difflib

APPLE_CATEGORIES: dict[str, tuple[str, ...]] = {
    "Arts": ("Books", "Design", "Fashion & Beauty", "Food", "Performing Arts", "Visual Arts"),
    "Business": (
        "Careers", "Entrepreneurship", "Investing", "Management", "Marketing", "Non-Profit",
    ),
    "Comedy": ("Comedy Interviews", "Improv", "Stand-Up"),
    "Education": ("Courses", "How To", "Language Learning", "Self-Improvement"),
    "Fiction": ("Comedy Fiction", "Drama", "Science Fiction"),
    "Government": (),
    "History": (),
    "Health & Fitness": (
        "Alternative Health", "Fitness", "Medicine", "Mental Health", "Nutrition", "Sexuality",
    ),
    "Kids & Family": ("Education for Kids", "Parenting", "Pets & Animals", "Stories for Kids"),
    "Leisure": (
        "Animation & Manga", "Automotive", "Aviation", "Crafts", "Games", "Hobbies",
        "Home & Garden", "Video Games",
    ),
    "Music": ("Music Commentary", "Music History", "Music Interviews"),
    "News": (
        "Business News", "Daily News", "Entertainment News", "News Commentary", "Politics",
        "Sports News", "Tech News",
    ),
    "Religion & Spirituality": (
        "Buddhism", "Christianity", "Hinduism", "Islam", "Judaism", "Religion", "Spirituality",
    ),
    "Science": (
        "Astronomy", "Chemistry", "Earth Sciences", "Life Sciences", "Mathematics",
        "Natural Sciences", "Nature", "Physics", "Social Sciences",
    ),
    "Society & Culture": (
        "Documentary", "Personal Journals", "Philosophy", "Places & Travel", "Relationships",
    ),
    "Sports": (
        "Baseball", "Basketball", "Cricket", "Fantasy Sports", "Football", "Golf", "Hockey",
        "Rugby", "Running", "Soccer", "Swimming", "Tennis", "Volleyball", "Wilderness",
        "Wrestling",
    ),
    "Technology": (),
    "True Crime": (),
    "TV & Film": ("After Shows", "Film History", "Film Interviews", "Film Reviews", "TV Reviews"),
}  # fmt: skip


MEANT: dict[str, tuple[str, str]] = {
    word: ("Health & Fitness", "Mental Health")
    for word in ("meditation", "mindfulness", "relaxation", "sleep", "wellness", "wellbeing")
}
"""Words a show like ours is tempted to write, and where Apple files such shows: their nearest
spelling ("Meditation" -> "Medicine", "Education") would mislead."""


def _closest(value: str, known: tuple[str, ...] | list[str]) -> str | None:
    """The known name `value` most likely meant: the same but for case, else the nearest spelling,
    else the one whose words it shares ("Health" -> "Health & Fitness")."""
    lowered = {name.lower(): name for name in known}
    if value.lower() in lowered:
        return lowered[value.lower()]
    close = difflib.get_close_matches(value.lower(), list(lowered), n=1, cutoff=0.6)
    if close:
        return lowered[close[0]]
    words = set(value.lower().replace("&", " ").split())
    sharing = [name for name in known if words & set(name.lower().replace("&", " ").split())]
    return sharing[0] if len(sharing) == 1 else None


def category_problem(category: str) -> str | None:
    """Why `category` is not one of Apple's, with a did-you-mean; None when it is."""
    if category in APPLE_CATEGORIES:
        return None
    parents = [name for name, subs in APPLE_CATEGORIES.items() if category in subs]
    if parents:
        return (
            f"`category` {category!r} is a subcategory of Apple's {parents[0]!r}: "
            f"write `category: {parents[0]}` and `subcategory: {category}`"
        )
    if category.lower() in MEANT:
        parent, sub = MEANT[category.lower()]
        return (
            f"`category` {category!r} is not one of Apple Podcasts' categories; such shows are "
            f"filed under `category: {parent}` with `subcategory: {sub}`"
        )
    guess = _closest(category, list(APPLE_CATEGORIES))
    hint = f"did you mean {guess!r}?" if guess else f"Apple's are: {', '.join(APPLE_CATEGORIES)}"
    return f"`category` {category!r} is not one of Apple Podcasts' categories; {hint}"


def subcategory_problem(category: str, subcategory: str) -> str | None:
    """Why `subcategory` is not one of Apple's under `category`; None when it is."""
    known = APPLE_CATEGORIES.get(category, ())
    if subcategory in known:
        return None
    if not known:
        return f"Apple's category {category!r} has no subcategories; leave `subcategory` out"
    parents = [name for name, subs in APPLE_CATEGORIES.items() if subcategory in subs]
    if parents:
        return (
            f"`subcategory` {subcategory!r} belongs to Apple's {parents[0]!r}, "
            f"not {category!r}; change one of the two"
        )
    meant = MEANT.get(subcategory.lower())
    guess = meant[1] if meant and meant[0] == category else _closest(subcategory, known)
    hint = f"did you mean {guess!r}?" if guess else f"under {category!r}: {', '.join(known)}"
    return f"`subcategory` {subcategory!r} is not one of Apple Podcasts'; {hint}"
