FROM busybox:1.36 AS parts
RUN echo part again 1796551845744521424 > /part
FROM busybox:1.36 AS base
ONBUILD RUN echo trigger 1796551845744521424 > /trigger
ONBUILD COPY --from=parts /part /from-parts
FROM base AS app
RUN cat /from-parts
