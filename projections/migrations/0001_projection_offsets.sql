-- Offsets consumed by each projection version, written in the same transaction as its rows:
-- a projector resumes from here, so a restart or a duplicate delivery never applies a record twice.
CREATE TABLE projection_offsets (
    projection   text        NOT NULL,
    version      integer     NOT NULL,
    topic        text        NOT NULL,
    partition    integer     NOT NULL,
    next_offset  bigint      NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, version, topic, partition)
);
