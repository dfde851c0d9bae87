"""Data: the published data sets read by ``sources``, turned into samples per hypothesis (``hypotheses``),
split (``splits``), measured (``limits``), tokenised (``features``); ``dataset`` assembles them."""
