"""Models: scratch models and tokenizers (``scratch``), the pretrained base (``base``), checkpoints and
run files (``checkpoints``), vocabulary trimming (``vocabulary``), the reply-only loss (``reply_loss``)
and the export of a model directory the bot serves (``export``)."""
