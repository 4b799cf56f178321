FROM busybox:1.36 AS one
RUN echo same 1795976616175708770 > /same
FROM busybox:1.36 AS two
RUN echo same 1795976616175708770 > /same
FROM busybox:1.36 AS final
COPY --from=one /same /one
COPY --from=two /same /two
