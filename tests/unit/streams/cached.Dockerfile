FROM busybox:1.36 AS base
RUN echo base 1795977725082043603 > /base
FROM base AS app
RUN echo app 1795977725082043603 > /app
FROM busybox:1.36 AS unused
RUN echo never
FROM busybox:1.36
COPY --from=app /app /app
