FROM busybox:1.36 AS ten
RUN echo step 1 1795977725082043603 >> /steps
RUN echo step 2 1795977725082043603 >> /steps
RUN echo step 3 1795977725082043603 >> /steps
RUN echo step 4 1795977725082043603 >> /steps
RUN echo step 5 1795977725082043603 >> /steps
RUN echo step 6 1795977725082043603 >> /steps
RUN echo step 7 1795977725082043603 >> /steps
RUN echo step 8 1795977725082043603 >> /steps
RUN echo step 9 1795977725082043603 >> /steps
FROM ten AS after
RUN cat /steps
