"""What a run leaves and how it is read back: durable trial storage (``storage``), the run folder
(``run_folder``, ``report``), analysis, figures and the HTML report."""
