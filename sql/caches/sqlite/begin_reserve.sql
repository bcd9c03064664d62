-- A budget reservation: the write lock first, so the sums read and the rows written are one step.
BEGIN IMMEDIATE
