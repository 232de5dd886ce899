"""Read-side scoring of assessment campaigns: requirement, domain, CSF function, institution,
ministry and national scores, and the institutions × domains heatmap."""
