FROM busybox:1.36 AS slow
RUN echo 1795976616175708770 && sleep 60
